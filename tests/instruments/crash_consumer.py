"""A minimal store for the crash test: every reading is committed to SQLite (unique on serial and
sequence, so a re-sent reading is stored once) before the driver acknowledges it.

    python -m tests.instruments.crash_consumer KIND URL DB [DIE_AFTER]

With DIE_AFTER the process kills itself (SIGKILL) right after storing that many readings, before it
acknowledges the last one. Every delivery is also logged, so the test can see that re-sends happened.
KIND may be a plug-in family: the process finds it through its distribution's entry point, when the
contract's `consumer_env()` puts that on PYTHONPATH.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import sys

from instrument_drivers import create_driver


def main(kind: str, url: str, db: str, die_after: int | None = None) -> None:
    """Store what the instrument sends until it has been idle for a minute (or until DIE_AFTER)."""
    conn = sqlite3.connect(db, isolation_level=None)  # autocommit: each INSERT is its own transaction
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE IF NOT EXISTS readings (serial TEXT, seq INTEGER, body TEXT, PRIMARY KEY (serial, seq))")
    conn.execute("CREATE TABLE IF NOT EXISTS deliveries (serial TEXT, seq INTEGER)")
    stored = 0
    with create_driver(kind, url) as driver:
        for reading in driver.readings(idle_exit=60):
            conn.execute("INSERT INTO deliveries VALUES (?, ?)", reading.key())
            conn.execute(
                "INSERT OR IGNORE INTO readings VALUES (?, ?, ?)",
                (reading.instrument_serial, reading.sequence, json.dumps(reading.as_dict())),
            )
            stored += 1
            if die_after is not None and stored >= die_after:
                os.kill(os.getpid(), signal.SIGKILL)  # stored, not acknowledged
            driver.ack(reading)


if __name__ == "__main__":
    main(*sys.argv[1:4], *(int(n) for n in sys.argv[4:5]))
