"""The tester photographs a colloidal-gold card on the vehicle page in headless Chromium at 360 px: the judged result
with its T/C, and the card's window and its C and T lines drawn over the photo where they were measured; a blurred
photo comes back with the reason in Chinese, everything chosen kept."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from simulators.card_photo.cards import Card, Shot, photo, realistic_shot
from tests.browser.audit import audit, watch
from tests.browser.conftest import screenshot, sign_in

pytestmark = pytest.mark.browser

# Where the drawn lines are, in the photo's pixels, and whether the photo itself was loaded under them.
DRAWN = """() => {
  const svg = document.querySelector("#card-photo svg.card-overlay");
  const line = (name) => { const l = svg.querySelector(`line[data-line=${name}]`);
    return [l.x1.baseVal.value, l.y1.baseVal.value, l.x2.baseVal.value, l.y2.baseVal.value]; };
  const win = svg.querySelector("polygon.window").points;
  const ys = Array.from({length: win.numberOfItems}, (_, i) => win.getItem(i).y);
  return { c: line("C"), t: line("T"), top: Math.min(...ys), bottom: Math.max(...ys),
           shown: svg.getBoundingClientRect().width };
}"""


def _register(page: Any) -> str:
    page.select_option("select[name=point_code]", "P05")
    page.fill("input[name=product_name]", "猪后腿肉")
    page.select_option("select[name=category_code]", "PORK")
    page.click("#register button[type=submit]")
    page.wait_for_selector("[data-registered]")
    return str(page.inner_text("[data-registered]"))


def test_tester_photographs_a_card_and_sees_the_lines_measured(new_page: Any, tmp_path: Path) -> None:
    page = watch(new_page())
    sign_in(page, "tester")
    label_id = _register(page)
    assert page.input_value("#card-photo select[name=label_id]") == label_id  # the sample just registered

    # A phone photo of a clenbuterol card: T/C 0.35 against the lot's cut-off 0.90, a suspected positive.
    shot = realistic_shot(random.Random(17), 1280, 960)
    card = tmp_path / "card.jpg"
    card.write_bytes(photo([Card("CLB", "CLB-2611A", t=0.35, c=1.0, angle=4.0)], shot))
    page.set_input_files("#card-photo input[name=photo]", str(card))
    with page.expect_navigation(url="**/vehicle?cards=*"):
        page.click("#card-photo button[type=submit]")
    page.wait_for_selector("#card-photo [data-card-result]")
    assert page.input_value("#card-photo select[name=label_id]") == label_id  # the next card: the same sample
    judged = page.locator("#card-photo [data-card-judgement]")
    assert judged.get_attribute("data-card-judgement") == "positive"
    assert label_id in judged.inner_text() and "T/C" in judged.inner_text()
    drawn = page.evaluate(DRAWN)
    assert drawn["top"] < drawn["c"][1] < drawn["t"][1] < drawn["bottom"]  # C above T, both inside the window
    assert 0 < drawn["shown"] <= 360
    page.locator("#card-photo figure").scroll_into_view_if_needed()
    audit(page, "zh")
    screenshot(page, "vehicle-card-photo-zh")

    # A blurred photo: the reason, in Chinese, where the tester is; the sample stays chosen.
    blurred = tmp_path / "blurred.jpg"
    blurred.write_bytes(photo([Card("CLB", "CLB-2611A", t=1.0, c=1.0)], Shot(width=960, height=720, blur=5.0)))
    page.set_input_files("#card-photo input[name=photo]", str(blurred))

    page.click("#card-photo button[type=submit]")
    page.wait_for_selector("#card-photo [data-card-error]")
    assert "模糊" in page.inner_text("#card-photo [data-card-error]")
    assert page.input_value("#card-photo select[name=label_id]") == label_id
    audit(page, "zh", checks=("language", "scroll", "lang"))
    screenshot(page, "vehicle-card-photo-refused-zh")
