"""Run the same or different service calls in threads that start together, each with its own real session."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from lims.services.core import audit
from lims.services.core.audit_tables import AUDITED_MODELS
from lims.services.core.errors import Conflict, ServiceError

Call = Callable[[Session], Any]


def race(engine: Engine, calls: list[Call], timeout: float = 60) -> list[str]:
    """Run each call in its own thread and session, all released at once; commit what succeeds.

    Each outcome is "ok", "conflict: <reason>" (a 409 with its reason), "refused: <reason>" (another
    service error) or "error: <exception>" (anything else: a database error is a failure here).
    """
    barrier = threading.Barrier(len(calls))
    outcomes: list[str] = [""] * len(calls)

    def run(index: int, call: Call) -> None:
        with Session(engine, expire_on_commit=False) as session:
            try:
                barrier.wait(timeout=timeout)
                call(session)
                session.commit()
                outcomes[index] = "ok"
            except Conflict as exc:
                session.rollback()
                outcomes[index] = f"conflict: {exc.reason}"
            except ServiceError as exc:
                session.rollback()
                outcomes[index] = f"refused: {exc.reason}"
            except Exception as exc:  # reported as the outcome, and asserted on
                session.rollback()
                outcomes[index] = f"error: {type(exc).__name__}: {exc}"

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(t.is_alive() for t in threads), "a racing call did not finish"
    return outcomes


@contextmanager
def read_together(
    monkeypatch: pytest.MonkeyPatch, parties: int, module: Any = audit, name: str = "snapshot"
) -> Iterator[None]:
    """Make racing calls meet after reading and checking, before writing: the worst interleaving, every time.

    Every state change takes the row's audited state (`audit.snapshot`) after its checks and before it
    writes; each racing thread waits there, on its first call, until all have arrived. A change that
    locks the row before its checks names its locking step instead (`module.name`).
    """
    barrier = threading.Barrier(parties)
    original = getattr(module, name)
    arrived = threading.local()

    def meet_first(*args: Any, **kwargs: Any) -> Any:
        if not getattr(arrived, "done", False):
            arrived.done = True
            # A thread that stopped early (a refused call) does not hold the others for long.
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=5)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, meet_first)
    try:
        yield
    finally:
        monkeypatch.setattr(module, name, original)


def one_wins(outcomes: list[str]) -> None:
    """Exactly one call succeeded and every other got a 409 with a reason."""
    assert outcomes.count("ok") == 1, outcomes
    losers = [o for o in outcomes if o != "ok"]
    assert all(o.startswith("conflict: ") and len(o) > len("conflict: ") for o in losers), outcomes


def audit_intact(engine: Engine) -> None:
    """`lims audit verify` finds the chain and the data in agreement."""
    with Session(engine) as session:
        found = audit.verify(session, AUDITED_MODELS)
    assert found is None, str(found)
