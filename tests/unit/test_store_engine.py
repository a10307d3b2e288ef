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


def test_a_newer_schema_is_refused_with_a_remedy(tmp_path: Path) -> None:
    from station.errors import StoreError

    url = f"sqlite:///{tmp_path / 's.db'}"
    store = open_store(url)
    store.meta.set("schema_version", "999")
    store.close()
    with pytest.raises(StoreError) as info:
        open_store(url)
    assert "newer than this Station understands" in info.value.message
    assert "Upgrade Station" in info.value.remedy


def test_only_the_owning_station_renews_a_journal_lease(tmp_path: Path) -> None:
    from station.store import NewPerson

    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    store.queue.add_people([NewPerson("a@x.com")])
    person = store.queue.claim_next("st-1", 60)
    assert person is not None
    row = store.journal.open(person.id, "st-1", lease_expires=100.0)
    assert store.journal.renew_lease(row.id, "st-1", 200.0)
    assert store.journal.take_over(row.id, "st-2", 300.0, expected_lease=200.0)
    assert not store.journal.renew_lease(row.id, "st-1", 400.0)
    current = store.journal.get(row.id)
    assert current is not None and (current.station_id, current.lease_expires) == ("st-2", 300.0)
    store.close()
