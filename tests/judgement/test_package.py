"""The judgement package: public names, purity of its imports, and the Judgement record."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import pytest

import lims.judgement
from lims.judgement import Judgement, Outcome

PACKAGE_DIR = Path(lims.judgement.__file__).parent


def test_public_names() -> None:
    for name in (
        "Outcome",
        "Judgement",
        "EnzymeMethod",
        "judge_enzyme",
        "judge_enzyme_deltas",
        "GoldKit",
        "judge_gold",
        "CalibrationCurve",
        "ItemLimit",
        "judge_spectro",
    ):
        assert name in lims.judgement.__all__
        assert hasattr(lims.judgement, name)
    assert lims.judgement.__doc__ == ("Pure judgement functions per instrument family, driven by reference data.")


def test_outcome_values() -> None:
    assert [o.value for o in Outcome] == ["negative", "positive", "invalid"]
    assert Outcome("positive") is Outcome.POSITIVE
    assert f"{Outcome.INVALID}" == "invalid"


def test_judgement_refuses_a_non_finite_value() -> None:
    with pytest.raises(ValueError):
        Judgement(Outcome.NEGATIVE, math.nan, "%", "x", {}, {})


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_judgement_imports_only_the_standard_library_and_itself() -> None:
    allowed_roots = {
        "__future__",
        "collections",
        "dataclasses",
        "decimal",
        "enum",
        "math",
        "pydantic",
        "random",
        "types",
        "typing",
    }
    for path in sorted(PACKAGE_DIR.glob("*.py")):
        for module in _imports(path):
            root = module.split(".")[0]
            assert root in allowed_roots or module.startswith("lims.judgement"), f"{path.name}: {module}"
