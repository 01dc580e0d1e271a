"""Errors raised by plan loading, validation and generation."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a plan: where (dotted path, file line) and what."""

    path: str
    message: str
    line: int | None = None

    def render(self, source: str | None = None) -> str:
        """Format as `source line N: path: message`, leaving out the parts that are unknown."""
        where = []
        if source:
            where.append(source)
        if self.line is not None:
            where.append(f"line {self.line}")
        prefix = " ".join(where)
        body = f"{self.path}: {self.message}" if self.path else self.message
        return f"{prefix}: {body}" if prefix else body


class PlanError(Exception):
    """A plan is invalid or cannot be scheduled; `problems` lists every fault found."""

    def __init__(self, problems: list[Problem] | str, source: str | None = None) -> None:
        if isinstance(problems, str):
            problems = [Problem("", problems)]
        self.problems: tuple[Problem, ...] = tuple(problems)
        self.source = source
        super().__init__("\n".join(p.render(source) for p in self.problems))


class CalendarError(PlanError):
    """A date lies outside the years the installed `chinese-calendar` has holiday data for."""
