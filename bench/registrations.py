"""Benchmark: concurrent sample registrations, how many succeed, and their throughput against serial ones.

For each backend (SQLite in a temporary file; PostgreSQL when --pg-url or LIMS_TEST_DATABASE_URL names
a server) and each count N, registers N samples one after another (the baseline), then N at once from
N threads with their own sessions released together, and prints how many of the concurrent ones got
a label, whether all labels are distinct and valid, and concurrent time / serial time.

    python bench/registrations.py [--counts 80 200] [--pg-url postgresql+psycopg://postgres@127.0.0.1/bench]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path

import sqlalchemy
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, select

from lims.db import make_engine
from lims.models import Sample
from lims.models.samples import SampleCreate
from lims.services.access import auth
from lims.services.core import schema
from lims.services.core.audit import SYSTEM, Actor
from lims.services.reference import reference_data
from lims.services.samples import sampling
from lims.services.samples.label_ids import label_id_problem

PASSWORD = "bench-password-long-enough"


def _fresh_postgres(url: str) -> Engine:
    name = f"{make_url(url).database}_registrations"
    admin = sqlalchemy.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_engine(make_url(url).set(database=name).render_as_string(hide_password=False))


def _prepare(engine: Engine, testers: int) -> list[Actor]:
    schema.upgrade(engine)
    with Session(engine, expire_on_commit=False) as session:
        reference_data.load_reference(session, SYSTEM)
        users = [auth.add_user(session, SYSTEM, f"tester{i}", "tester", PASSWORD) for i in range(testers)]
        session.commit()
        return [auth.actor_for(u) for u in users]


def _register(engine: Engine, actor: Actor, n: int) -> str | None:
    body = SampleCreate(point_code="P05", product_name=f"小白菜 {n}", category_code="VEG_LEAF")
    with Session(engine, expire_on_commit=False) as session:
        try:
            label = sampling.register(session, actor, body).label_id
            session.commit()
            return label
        except Exception as exc:  # counted as a failed registration and reported
            session.rollback()
            print(f"    failed: {type(exc).__name__}: {str(exc).splitlines()[0][:100]}")
            return None


def _serial(engine: Engine, actors: list[Actor], count: int) -> float:
    start = time.perf_counter()
    for n in range(count):
        _register(engine, actors[n % len(actors)], n)
    return time.perf_counter() - start


def _concurrent(engine: Engine, actors: list[Actor], count: int) -> tuple[list[str | None], float]:
    barrier = threading.Barrier(count + 1)
    labels: list[str | None] = [None] * count

    def run(n: int) -> None:
        barrier.wait()
        labels[n] = _register(engine, actors[n % len(actors)], n)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    return labels, time.perf_counter() - start


def run(backend: str, engine: Engine, counts: list[int]) -> None:
    """Serial then concurrent registrations for each count on one database."""
    actors = _prepare(engine, testers=4)
    for count in counts:
        serial = _serial(engine, actors, count)
        labels, concurrent = _concurrent(engine, actors, count)
        issued = [label for label in labels if label]
        valid = all(label_id_problem(label) is None for label in issued)
        with Session(engine) as session:
            stored = len(session.exec(select(Sample.id)).all())
        print(
            f"{backend:10} N={count:4}: {len(issued)} of {count} concurrent registrations succeeded, "
            f"{'distinct' if len(set(issued)) == len(issued) else 'DUPLICATE'} and {'valid' if valid else 'INVALID'} "
            f"labels; serial {serial:.2f} s, concurrent {concurrent:.2f} s, ratio {concurrent / serial:.2f} "
            f"({stored} samples stored)"
        )


def main() -> None:
    """Parse arguments and run the benchmark on each configured backend."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[80, 200])
    parser.add_argument("--pg-url", default=os.environ.get("LIMS_TEST_DATABASE_URL", ""))
    args = parser.parse_args()
    os.environ.setdefault("LIMS_SECRET_KEY", "bench-secret-key-not-for-production-use")
    with tempfile.TemporaryDirectory() as folder:
        os.environ.setdefault("LIMS_VAR_DIR", folder)
        engine = make_engine(f"sqlite:///{Path(folder) / 'registrations.db'}")
        run("sqlite", engine, args.counts)
        engine.dispose()
    if args.pg_url:
        engine = _fresh_postgres(args.pg_url)
        run("postgresql", engine, args.counts)
        engine.dispose()


if __name__ == "__main__":
    main()
