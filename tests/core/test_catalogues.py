"""Every text has a Chinese translation, every raised error a code and a catalogued message, in both languages."""

from __future__ import annotations

import ast
from pathlib import Path

from fastapi.testclient import TestClient

import lims
from barcodes.authenticate import authenticate
from barcodes.gs1 import CodeError, parse_code
from lims.i18n import catalogues, render_message

SOURCE = Path(lims.__file__).parent
ERRORS = {
    "ServiceError", "Invalid", "Conflict", "NotFound", "Forbidden", "Unauthorized", "TooManyRequests", "Busy",
    "TooLarge", "CsrfFailed", "AuditKeyError", "CheckpointFileError", "LegacyChainBroken",
}  # fmt: skip


def _chinese() -> dict[tuple[str | None, str], str]:
    catalog = catalogues.load("zh_CN")
    return {(m.context, m.id): m.string for m in catalog if m.id and isinstance(m.id, str) and not m.fuzzy}  # type: ignore[misc]


def test_every_message_id_has_a_chinese_translation() -> None:
    chinese = _chinese()
    missing = sorted(
        {f"{where}: {msgid!r}" for context, msgid, where in catalogues.extract() if not chinese.get((context, msgid))}
    )
    assert not missing, "untranslated in zh_CN (run python -m lims.i18n.catalogues, then translate):\n" + "\n".join(
        missing
    )


def test_every_raised_error_has_a_code_and_a_catalogued_message() -> None:
    chinese = _chinese()
    problems = []
    for path in sorted(SOURCE.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            if name not in ERRORS:
                continue
            where = f"{path.relative_to(SOURCE)}:{node.lineno}"
            if len(node.args) < 2 or not (
                isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
            ):
                problems.append(f"{where}: needs a literal code and a message id")
                continue
            message = node.args[1]
            literal = (
                message.args[0]
                if isinstance(message, ast.Call) and getattr(message.func, "id", "") == "_N" and message.args
                else None
            )
            if isinstance(literal, ast.Constant) and isinstance(literal.value, str):
                if not chinese.get((None, literal.value)):
                    problems.append(f"{where}: {literal.value!r} has no Chinese translation")
            elif not isinstance(message, ast.Name):  # a constant marked with _N elsewhere is checked above
                problems.append(f"{where}: the message must be _N('…') or a name bound to one")
    assert not problems, "\n".join(problems)


def test_an_api_error_comes_back_in_the_language_asked_for(
    client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    auth = {"Authorization": headers["tester"]["Authorization"]}
    chinese = client.get("/api/v1/results/999999", headers={**auth, "Accept-Language": "zh-CN,zh;q=0.9"})
    english = client.get("/api/v1/results/999999", headers={**auth, "Accept-Language": "en-GB,en;q=0.8"})
    assert chinese.status_code == english.status_code == 404
    assert chinese.json() == {"detail": "没有结果 999999", "code": "records.no_result", "params": {"result_id": 999999}}
    assert english.json()["detail"] == "no result 999999" and english.json()["code"] == "records.no_result"
    by_query = client.get("/api/v1/results/999999?lang=en", headers={**auth, "Accept-Language": "zh-CN"})
    assert by_query.json()["detail"] == "no result 999999"
    unasked = client.get("/api/v1/results/999999", headers=auth)
    assert unasked.json()["detail"] == "没有结果 999999"  # Chinese first


def test_the_barcode_library_s_problems_and_findings_read_in_both_languages() -> None:
    findings = {f.code: f for f in authenticate("6920152400013", None, [])}
    bad = findings["code_invalid"]
    assert render_message(bad.message, "zh") == "条码无效：校验码错误：应为2，实际为3。可能是印刷错误或假冒商品。"
    assert render_message(bad.message, "en").startswith("Invalid code: bad check digit: expected 2, got 3.")
    found = {f.code: f for f in authenticate(parse_code("6920152400012"), None, [])}
    assert render_message(found["code_valid"].message, "zh") == "条码校验通过（商品条码）。"
    assert "中国物品编码中心" in render_message(found["issuer"].message, "zh")
    assert "GS1 China" in render_message(found["issuer"].message, "en")
    try:
        parse_code("(01)06901234567891(10)A1")
    except CodeError as exc:
        assert render_message(exc.message, "zh") == "AI (01)：校验码错误：应为2，实际为1"
        assert exc.reason == "AI (01): bad check digit: expected 2, got 1"
    else:
        raise AssertionError("a bad check digit inside an element string is refused")


def test_states_and_actions_in_a_refusal_are_named_in_the_readers_language() -> None:
    from lims.i18n import _N, terms
    from lims.services.core.errors import Conflict

    refusal = Conflict(
        "workflow.cannot_result_only_from",
        _N("cannot {action} a result that is {result_status}; only from: {allowed}"),
        action=terms.action("publish"),
        result_status=terms.status("tested"),
        allowed=terms.status("approved", "published"),
    )
    assert refusal.text("zh") == "「待审核」的结果不能发布；只能从以下状态发布：已审核、已发布"
    assert refusal.text("en") == "cannot publish a result that is Awaiting review; only from: Approved, Published"
    # API clients keep the plain values
    assert refusal.json_params() == {"action": "publish", "result_status": "tested", "allowed": "approved, published"}
