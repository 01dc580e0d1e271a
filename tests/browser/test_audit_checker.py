"""The page audit itself: each kind of problem on a tiny page is caught, and a clean page passes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.audit import audit, latin_runs, leaks, problems, watch
from tests.browser.conftest import LAPTOP, PHONE

pytestmark = pytest.mark.browser
ORIGIN = "http://audit.test"
STYLE = """
body{font:16px/1.5 sans-serif;color:#111;background:#fff;margin:0;padding:8px}
button,input,select,textarea{min-height:44px;font:inherit}
nav a{display:inline-block;min-height:24px;min-width:24px;padding:4px}
label{display:flex;min-height:44px;align-items:center;gap:8px}
"""


def _doc(body: str, lang: str = "zh-CN", title: str = "食品快检", head: str = "") -> str:
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{title}</title><link rel="stylesheet" href="/s.css">{head}</head>'
        f"<body><main>{body}</main></body></html>"
    )


CLEAN_ZH = _doc(
    """<h1>检测结果</h1>
<p>产品 <span class="data">Organic Baby Spinach</span>，条码 <span translate="no">6901234567892</span>，
检测值 0.559 T/C，限量 20 µg/kg，GTIN 校验通过。详见<a href="/more">说明</a>。</p>
<nav><a href="/a">首页</a> <a href="/b" lang="en">English</a></nav>
<form><label>数量<input name="n" value="3"></label>
<label><input type="checkbox" name="ok"> 已确认</label>
<select name="s" aria-label="类别"><option>蔬菜</option></select>
<button type="submit">提交</button></form>
<p hidden>Hidden text is not shown at all</p>"""
)
CLEAN_EN = _doc(
    """<h1>Results</h1>
<p>Product <span class="data">有机菠菜</span>, code <span translate="no">6901234567892</span>.
Read <a href="/more">the notes</a>.</p>
<nav><a href="/a">Home</a> <a href="/b" lang="zh-CN">中文</a></nav>
<form><label>Count<input name="n" value="3"></label><button type="submit">Send</button></form>""",
    lang="en",
    title="Food quick-test",
)
PAGES = {
    "/clean-zh": CLEAN_ZH,
    "/clean-en": CLEAN_EN,
    "/leak-zh": _doc("<h1>检测结果</h1><p>the form has expired</p><input placeholder='Search here' name='q'>"),
    "/leak-en": _doc("<h1>Results</h1><p>Judged 阳性</p>", lang="en", title="Results"),
    "/small": _doc(
        """<h1>小</h1><button style="min-height:0;height:30px">提交</button>
<select name="s" style="min-height:0;height:30px" aria-label="类别"><option>一</option></select>
<div><a href="/x" style="font-size:10px;line-height:12px">返回</a></div>
<input type="checkbox" id="c" aria-label="勾选" style="min-height:0">"""
    ),
    "/axe": _doc('<h1>图</h1><img src="/i.svg"><p style="color:#bbb">浅色的字</p>'),
    "/scroll": _doc('<h1>宽</h1><div style="width:900px">很宽的表格</div>'),
    "/script": _doc("<h1>错</h1><img src='/missing.png' alt='缺'>", head="<script>throw new Error('boom')</script>"),
    "/lang": _doc("<h1>检测</h1>", lang="en"),
}


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=PHONE)
    served = context.new_page()

    def route(r: Any) -> None:
        path = r.request.url.removeprefix(ORIGIN)
        if path == "/s.css":
            r.fulfill(status=200, content_type="text/css", body=STYLE)
        elif path == "/i.svg":
            svg = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>'
            r.fulfill(status=200, content_type="image/svg+xml", body=svg)
        elif path in PAGES:
            r.fulfill(status=200, content_type="text/html; charset=utf-8", body=PAGES[path])
        else:
            r.fulfill(status=404, content_type="text/plain", body="not found")

    served.route(f"{ORIGIN}/**", route)
    yield watch(served)
    context.close()


def test_a_clean_page_passes_in_both_languages_and_sizes(page: Any) -> None:
    for viewport in (PHONE, LAPTOP):
        page.set_viewport_size(viewport)
        page.goto(f"{ORIGIN}/clean-zh")
        audit(page, "zh")
        page.goto(f"{ORIGIN}/clean-en")
        audit(page, "en")


def test_english_interface_text_on_a_chinese_page_is_caught(page: Any) -> None:
    page.goto(f"{ORIGIN}/leak-zh")
    found = problems(page, "zh")["language"]
    assert any("the form has expired" in f for f in found), found
    assert any("Search here" in f and "@placeholder" in f for f in found), found
    with pytest.raises(AssertionError, match=r"\[language\]"):
        audit(page, "zh")


def test_chinese_interface_text_on_an_english_page_is_caught(page: Any) -> None:
    page.goto(f"{ORIGIN}/leak-en")
    found = problems(page, "en")["language"]
    assert found and "阳性" in found[0], found


def test_small_targets_are_caught_and_a_link_in_a_sentence_is_not(page: Any) -> None:
    page.goto(f"{ORIGIN}/small")
    found = problems(page, "zh")["targets"]
    assert any(f.startswith('button "提交": 30 px') for f in found), found
    assert any(f.startswith("select[name=s]") for f in found), found
    assert any(f.startswith('a "返回"') for f in found), found
    assert any("checkbox without a label" in f for f in found), found
    page.goto(f"{ORIGIN}/clean-zh")  # 说明 is a small link inside a sentence: allowed (WCAG 2.5.8 inline)
    assert problems(page, "zh")["targets"] == []


def test_axe_serious_violations_are_caught(page: Any) -> None:
    page.goto(f"{ORIGIN}/axe")
    found = problems(page, "zh")["axe"]
    assert any(f.startswith("image-alt") for f in found), found
    assert any(f.startswith("color-contrast") for f in found), found


def test_horizontal_scroll_is_caught(page: Any) -> None:
    page.goto(f"{ORIGIN}/scroll")
    assert problems(page, "zh")["scroll"] == ["the page is 908 px wide in a 360 px window"]


def test_script_errors_and_missing_files_are_caught_once(page: Any) -> None:
    page.goto(f"{ORIGIN}/script")
    found = problems(page, "zh")["script"]
    assert any("page error" in f and "boom" in f for f in found), found
    assert any(f.startswith("404 for image") for f in found), found
    assert problems(page, "zh")["script"] == []  # reported once, for the page it happened on


def test_an_error_document_is_not_a_script_error(page: Any) -> None:
    page.goto(f"{ORIGIN}/no-such-page")  # the document is a 404; nothing else failed
    assert problems(page, "en", checks=("script",))["script"] == []


def test_a_page_nobody_watched_is_judged_on_what_playwright_kept(browser: Any) -> None:
    context = browser.new_context()
    try:
        bare = context.new_page()
        bare.route(
            f"{ORIGIN}/**",
            lambda r: (
                r.fulfill(status=404, body="no")
                if "missing" in r.request.url
                else r.fulfill(status=200, content_type="text/html", body=PAGES["/script"])
            ),
        )
        bare.goto(f"{ORIGIN}/script")
        found = problems(bare, "zh", checks=("script",))["script"]
        assert any("page error" in f and "boom" in f for f in found), found
        assert any(f.startswith("404 for image") for f in found), found
        assert problems(bare, "zh", checks=("script",))["script"] == []  # reported once
    finally:
        context.close()


def test_a_wrong_html_lang_is_caught(page: Any) -> None:
    page.goto(f"{ORIGIN}/lang")
    assert problems(page, "zh")["lang"] == ["<html lang='en'> on a zh page"]


def test_latin_runs_allow_units_and_single_words() -> None:
    assert latin_runs("检测值 0.559 T/C · 限量 20 µg/kg") == []
    assert latin_runs("GTIN 条码 EAN UPC QR") == []
    assert latin_runs("品牌 Nestle 的产品") == []
    assert latin_runs("错误：the form expired") == ["the form expired"]
    assert leaks("Judged 阳性，", "en") == ["阳性，"]
    assert leaks("Judged positive", "en") == []
