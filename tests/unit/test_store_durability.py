"""The SQLite store keeps the power-cut promise: every commit is synced (synchronous=FULL, WAL mode). With WAL,
SQLite's NORMAL syncs only at checkpoints, so a power cut may lose the last committed journal writes — the
ones a restarted station needs to resolve an enrolment without registering a second passkey."""

from __future__ import annotations

from pathlib import Path

from station.store import open_store

FULL = 2


def test_every_connection_of_a_sqlite_store_syncs_each_commit(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'station.db'}", "t")
    try:
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == FULL
    finally:
        store.close()
