"""The SQLite engine: WAL mode, and a store opened by root beside the service stays the service's."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import text

from station.store import open_store


def test_sqlite_store_runs_in_wal_mode(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    with store.engine.connect() as c:
        assert c.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    store.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give files away")
def test_root_opening_a_service_owned_store_keeps_files_with_the_service(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    os.chown(state, 65534, 65534)
    store = open_store(f"sqlite:///{state / 'station.db'}")
    store.queue.claim_next("st", 60)
    owners = {f.name: f.stat().st_uid for f in state.iterdir()}
    store.close()
    assert owners["station.db"] == 65534
    assert all(uid == 65534 for uid in owners.values()), owners
