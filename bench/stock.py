"""What keeping kit lots as stock costs a result: gold readings stored through the instrument path
(`lims.services.results.ingest.store_record`, one transaction per reading as `lims acquire` does) on a lot the
district keeps in stock (each result takes its card: one conditional update of the holding, one ledger row,
their audit events) against the same readings on a lot it does not track (the baseline, measured in the same
run on the same database).

    .venv/bin/python bench/stock.py [--count 300] [--db var/bench/stock.db]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(count: int, db: Path) -> dict[str, float]:
    """Results a second on an untracked lot and on a tracked one, and the ratio."""
    from sqlmodel import Session, select

    from instrument_drivers.reading import Reading
    from lims.db import make_engine
    from lims.models import District, Instrument, KitLot, KitStock, StockMovement
    from lims.models.common import Role
    from lims.models.samples import SampleCreate
    from lims.services.access import auth
    from lims.services.core import schema
    from lims.services.core.audit import SYSTEM
    from lims.services.lab import stock
    from lims.services.reference import reference_data
    from lims.services.results import ingest
    from lims.services.samples import sampling

    db.parent.mkdir(parents=True, exist_ok=True)
    if db.exists():
        db.unlink()
    engine = make_engine(f"sqlite:///{db}")
    schema.upgrade(engine)
    with Session(engine) as session:
        reference_data.load_reference(session, SYSTEM)
        district = session.exec(select(District)).first()
        assert district is not None and district.id is not None
        gateway = ingest.gateway_actor(session, district.id)
        admin = auth.actor_for(auth.add_user(session, SYSTEM, "bench-admin", Role.ADMIN, "bench-admin-password-2026"))
        serial = next(i.serial for i in session.exec(select(Instrument)) if i.family == "gold")
        lots = {k.lot: int(k.id or 0) for k in session.exec(select(KitLot))}
        stock.receive(session, admin, lots["RAC-2611A"], count + 10)
        stock.accept(session, admin, lots["RAC-2611A"], True, "bench")
        session.commit()
    base_day = datetime.now(UTC).replace(hour=2, minute=0, second=0, microsecond=0)
    labels: list[str] = []
    with Session(engine) as session:
        for n in range(2 * count):  # at most 999 labels a day: spread the samples over past days
            collected = base_day - timedelta(days=1 + n // 900)
            sample = sampling.register(
                session,
                gateway,
                SampleCreate(point_code="P05", product_name="bench", category_code="PORK", collected_at=collected),
            )
            labels.append(sample.label_id)
        session.commit()

    def store(item: str, lot: str, first: int) -> float:
        t0 = time.perf_counter()
        for n in range(count):
            reading = Reading(
                instrument_serial=serial,
                family="gold",
                sequence=first + n,
                item_code=item,
                sample_label_id=labels[first + n],
                raw={"t": 1.0, "c": 1.0, "kit_lot": lot},
                judgement="negative",
            )
            [done] = ingest.store_record(engine, [reading])
            assert done.result_id is not None, done.hold_reason
        return count / (time.perf_counter() - t0)

    untracked = store("CLB", "CLB-2611A", 0)
    tracked = store("RAC", "RAC-2611A", count)
    with Session(engine) as session:
        held = session.exec(select(KitStock)).one()
        moves = session.exec(select(StockMovement).where(StockMovement.kind == "consumed")).all()
        assert held.remaining == 10 and len(moves) == count
    engine.dispose()
    return {"untracked_per_s": untracked, "tracked_per_s": tracked, "ratio": tracked / untracked}


def main() -> None:
    """Print results a second with and without stock, and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--db", type=Path, default=ROOT / "var" / "bench" / "stock.db")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    figures = run(args.count, args.db)
    print(
        f"gold readings stored, {args.count} each: untracked lot {figures['untracked_per_s']:.1f}/s, "
        f"stock-tracked lot {figures['tracked_per_s']:.1f}/s, ratio {figures['ratio']:.2f}"
    )


if __name__ == "__main__":
    main()
