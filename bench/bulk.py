"""Filling a benchmark's store fast: rows inserted straight into the tables, 10,000 per statement, in one
transaction (the store migrated first, as a station's would be)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert

from station.store import open_store

BATCH = 10_000


def insert_rows(url: str, tables: Sequence[tuple[Any, list[dict[str, Any]]]]) -> None:
    """Insert each ``(model, rows)`` pair's rows into the store at ``url``, in order."""
    store = open_store(url, "bench")
    try:
        with store.engine.begin() as conn:
            for table, data in tables:
                for i in range(0, len(data), BATCH):
                    conn.execute(insert(table), data[i:i + BATCH])
    finally:
        store.close()
