"""A minimal store for the crash test: every reading is committed to SQLite (unique on serial and
sequence, so a re-sent reading is stored once) before the driver acknowledges it.

    python -m tests.instruments.crash_consumer KIND URL DB
"""

from __future__ import annotations

import json
import sqlite3
import sys

from instrument_drivers import create_driver


def main(kind: str, url: str, db: str) -> None:
    conn = sqlite3.connect(db, isolation_level=None)  # autocommit: each INSERT is its own transaction
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE IF NOT EXISTS readings (serial TEXT, seq INTEGER, body TEXT, PRIMARY KEY (serial, seq))")
    with create_driver(kind, url) as driver:
        for reading in driver.readings(idle_exit=60):
            conn.execute(
                "INSERT OR IGNORE INTO readings VALUES (?, ?, ?)",
                (reading.instrument_serial, reading.sequence, json.dumps(reading.as_dict())),
            )
            driver.ack(reading)


if __name__ == "__main__":
    main(*sys.argv[1:4])
