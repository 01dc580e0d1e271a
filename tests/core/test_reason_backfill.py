"""Migration 0014 recovers reason codes and parameters from the English reasons stored before it."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import lims
from lims.i18n import judgement_reason


def _migration() -> ModuleType:
    path = Path(lims.__file__).parent / "migrations" / "versions" / "0014_result_reason_codes.py"
    spec = importlib.util.spec_from_file_location("m0014", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_old_english_reasons_become_codes_with_parameters() -> None:
    parse = _migration().parse
    code, params = parse("within_limit", "Negative: 19.2 mg/kg is within the limit of 30 mg/kg (GB 2760).")
    assert (code, params) == ("within_limit", {"content": "19.2", "unit": "mg/kg", "limit": "30", "source": "GB 2760"})
    assert judgement_reason(code, params, "zh") == "阴性：含量 19.2 mg/kg，未超过限量 30 mg/kg（GB 2760）。"
    code, params = parse(
        "not_detected", "Not detected: 0.4 mg/kg is below the detection limit 1 mg/kg; reported as < 1 mg/kg."
    )
    assert params["why"] == {
        "code": "below_detection_limit",
        "params": {"content": "0.4", "unit": "mg/kg", "detection_limit": "1"},
    }
    assert "低于检出限" in judgement_reason(code, params, "zh")
    code, params = parse("non_finite_input", "Invalid card: no T/C can be computed from T 1e+308, C 1e-308.")
    assert code == "non_finite_input" and params == {"values": "T/C of T 1e+308, C 1e-308"}


def test_a_text_that_matches_no_code_is_kept_as_it_was() -> None:
    code, params = _migration().parse("tc_below_cutoff", "some text written by hand")
    assert code == "legacy_text" and params == {"text": "some text written by hand", "was": "tc_below_cutoff"}
    assert judgement_reason(code, params, "zh") == "some text written by hand"
