"""Load a plan from YAML, reporting every fault with its field path and line in the file."""

from __future__ import annotations

from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from schedules.bulk import no_cycle_collection
from schedules.errors import PlanError, Problem
from schedules.model import Plan

EXAMPLE = "district_plan.yaml"

# Short messages for pydantic's error types; anything else keeps pydantic's own wording.
_MESSAGES: dict[str, str] = {
    "missing": "is required",
    "extra_forbidden": "unknown field",
    "greater_than_equal": "must be >= {ge}",
    "greater_than": "must be > {gt}",
    "less_than_equal": "must be <= {le}",
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "string_type": "must be text",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "dict_type": "must be a mapping (key: value)",
    "list_type": "must be a list",
    "model_type": "must be a mapping (key: value)",
    "too_short": "must have at least {min_length} entries",
    "string_pattern_mismatch": "code may hold letters, digits, '_', '.', '-'",
    "date_from_datetime_parsing": "must be a date YYYY-MM-DD",
    "date_parsing": "must be a date YYYY-MM-DD",
    "date_type": "must be a date YYYY-MM-DD",
}


try:
    from yaml import CSafeLoader as _BaseLoader  # libyaml: same nodes and marks, many times faster
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]


class _Loader(_BaseLoader):
    """Safe YAML loader that leaves impossible dates (2026-13-01) as text for validation to report."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._tags: dict[tuple[Any, str, Any], str] = {}

    def resolve(self, kind: Any, value: str, implicit: Any) -> str:
        """The tag of a node; the safe loader has no path resolvers, so a scalar's tag depends on its text
        alone and a plan's many repeated values are resolved once."""
        key = (kind, value, implicit)
        tag = self._tags.get(key)
        if tag is None:
            tag = self._tags[key] = super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
        return tag

    def construct_yaml_timestamp(self, node: yaml.Node) -> object:  # type: ignore[override]
        """A date or datetime, or the scalar's text when it names no real day."""
        try:
            return super().construct_yaml_timestamp(node)  # type: ignore[arg-type]
        except ValueError:
            return self.construct_scalar(node)  # type: ignore[arg-type]


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


def _dotted(parts: list[str | int]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _lines(node: yaml.Node, path: str, table: dict[str, int], problems: list[Problem]) -> None:
    """Record the 1-based line of every mapping value and list entry, keyed by dotted path."""
    table.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = f"{path}.{key}" if path else key
            if key in seen:
                problems.append(Problem(child, "duplicate key", key_node.start_mark.line + 1))
            seen.add(key)
            table[child] = key_node.start_mark.line + 1
            _lines(value_node, child, table, problems)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _lines(item, f"{path}[{i}]", table, problems)


_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"


class _Duplicate(Exception):
    """A mapping names a key twice (the line table then reports every such key)."""


def _plain_data(loader: _Loader, node: yaml.Node) -> Any:
    """The document as plain data, as `construct_document` builds it for a plan's mappings, lists and scalars,
    in one walk; for merge keys, unhashable keys and other tags None is returned: PyYAML's own constructor then
    builds it (and reports what it cannot)."""
    constructors = loader.yaml_constructors

    def build(node: yaml.Node) -> Any:
        tag = node.tag
        if isinstance(node, yaml.ScalarNode):
            if tag == _STR:
                return node.value
            return constructors[tag](loader, node)
        if isinstance(node, yaml.MappingNode) and tag == _MAP:
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == _MERGE:
                    raise LookupError
                key = build(key_node)
                if key in out:
                    raise _Duplicate
                out[key] = build(value_node)
            return out
        if isinstance(node, yaml.SequenceNode) and tag == _SEQ:
            return [build(item) for item in node.value]
        raise LookupError

    try:
        return build(node)
    except (LookupError, TypeError, RecursionError):  # a merge key, an unhashable key, a tag of its own, a loop
        return None


def _line_for(path: str, table: dict[str, int]) -> int | None:
    """Line of `path`, or of its nearest ancestor present in the file."""
    while path:
        if path in table:
            return table[path]
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return table.get("")


def _message(error: ErrorDetails) -> str:
    template = _MESSAGES.get(error["type"])
    if template is None:
        message = error["msg"]
        for prefix in ("Value error, ", "Assertion failed, "):
            message = message.removeprefix(prefix)
        if error["type"] in ("enum", "literal_error"):
            return message.replace("Input should be", "must be")
        return message
    return template.format(**error.get("ctx", {}))


def _loc_parts(loc: tuple[int | str, ...]) -> list[str | int]:
    # pydantic adds tags like '[key]' or 'function-before[...]' for validators and unions: not fields.
    return [p for p in loc if isinstance(p, int) or not any(ch in p for ch in "[](),")]


def _read(source: str | Path) -> tuple[str, str]:
    if isinstance(source, Path) or ("\n" not in source and source.strip()):
        path = Path(source)
        try:
            return path.read_text(encoding="utf-8"), path.name
        except OSError as exc:
            raise PlanError(f"cannot read plan file {path}: {exc.strerror or exc}") from None
    return source, "plan"


def load_plan(source: str | Path, *, name: str | None = None) -> Plan:
    """Parse and validate a plan from a file path or YAML text; PlanError names field and line.

    A `Path`, or a one-line string, is a file to read; a string holding a newline is the YAML itself.
    Errors are reported as `NAME line N: field.path: message`, NAME being `name`, else the file's name.
    """
    text, default_name = _read(source)
    with no_cycle_collection():
        return _load(text, name or default_name)


def _load(text: str, origin: str) -> Plan:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise PlanError([Problem("", "empty plan", 1)], origin)
        try:
            data = _plain_data(loader, node)
        except _Duplicate:
            data = None
        table: dict[str, int] | None = None
        if data is None:
            table = _line_table(node, origin)
            data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise PlanError([Problem("", f"not valid YAML: {exc.problem or exc}", line)], origin) from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise PlanError([Problem("", "a plan must be a mapping of fields", 1)], origin)
    if table is not None:
        return _validate(data, table, origin)
    try:
        return _validate(data, {}, origin)
    except PlanError:  # name the lines: compose the document again, only now that they are needed
        again = _Loader(text)
        try:
            table = _line_table(again.get_single_node() or node, origin)
        finally:
            again.dispose()
        return _validate(data, table, origin)


def _line_table(node: yaml.Node, origin: str) -> dict[str, int]:
    """The line of every field path of the document; PlanError naming every key given twice."""
    table: dict[str, int] = {}
    problems: list[Problem] = []
    _lines(node, "", table, problems)
    if problems:
        raise PlanError(problems, origin)
    return table


def parse_plan(data: Mapping[str, Any], *, name: str | None = None) -> Plan:
    """Validate a plan given as plain data (e.g. stored JSON); every fault raises PlanError, by field path."""
    return _validate(data, {}, name)


def _validate(data: Mapping[str, Any], table: dict[str, int], origin: str | None) -> Plan:
    try:
        return Plan.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            path = _dotted(_loc_parts(error["loc"]))
            problems.append(Problem(path, _message(error), _line_for(path, table)))
        raise PlanError(problems, origin) from None
    except PlanError as exc:
        located = [Problem(p.path, p.message, _line_for(p.path, table)) for p in exc.problems]
        raise PlanError(located, origin) from None


def example_plan_path() -> Path:
    """Path of the shipped example plan for the district."""
    return Path(str(files("schedules").joinpath("examples", EXAMPLE)))


def load_example() -> Plan:
    """Load the shipped example plan."""
    return load_plan(example_plan_path())
