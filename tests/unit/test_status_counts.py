"""The status snapshot's queue counts: always what the store holds — after this station's own writes and after
another process's — while a store nobody changed is not counted again for every request (a GROUP BY over
every person, ≈ 50 ms at a million)."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from pg import pg_url  # noqa: F401  (fixture)
from sqlalchemy import event

from station.status import EntraMeter, StatusBoard
from station.store import NewPerson, Store, open_store


def _board(store: Store) -> StatusBoard:
    return StatusBoard(station_id="desk-1", station_name="Desk 1", store=store, engine=None, health=EntraMeter(),
                       watchers=[])


def _counted(store: Store) -> list[str]:
    """The GROUP BY statements the store's engine runs from now on."""
    seen: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "GROUP BY" in statement and "person" in statement:
            seen.append(statement)

    event.listen(store.engine, "before_cursor_execute", before)
    return seen


def test_counts_follow_this_stations_writes_and_are_kept_while_nothing_changes(store: Store) -> None:
    store.queue.add_people([NewPerson(f"p{i}@contoso.com", f"P {i}") for i in range(3)])
    board = _board(store)
    counted = _counted(store)
    assert board.snapshot()["queue"]["queued"] == 3
    assert board.snapshot()["queue"]["queued"] == 3
    assert len(counted) == 1, "nothing changed: the second snapshot keeps the counts"
    person = store.queue.claim_next("desk-1", 600)
    assert person is not None
    queue = board.snapshot()["queue"]
    assert (queue["queued"], queue["claimed"]) == (2, 1)
    store.queue.skip("p2@contoso.com")
    assert board.snapshot()["queue"]["skipped"] == 1
    assert len(counted) == 3


def test_counts_follow_another_processs_writes(store: Store, tmp_path: Any) -> None:
    board = _board(store)
    assert board.snapshot()["queue"]["queued"] == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("STATION_")}
    added = subprocess.run([sys.executable, "-m", "station.cli", "queue", "add", "--upn", "kim@contoso.com",
                            "--store", f"sqlite:///{tmp_path / 'station.db'}"], capture_output=True, text=True,
                           env=env, timeout=120)
    assert added.returncode == 0, added.stderr
    assert board.snapshot()["queue"]["queued"] == 1


def test_a_postgresql_store_is_counted_for_every_snapshot(pg_url: str) -> None:  # noqa: F811
    store = open_store(pg_url, "desk-1")
    try:
        board = _board(store)
        counted = _counted(store)
        assert board.snapshot()["queue"]["queued"] == 0
        other = open_store(pg_url, "desk-2")
        try:
            other.queue.add_people([NewPerson("kim@contoso.com", "Kim")])
        finally:
            other.close()
        assert board.snapshot()["queue"]["queued"] == 1
        assert len(counted) == 2
    finally:
        store.close()
