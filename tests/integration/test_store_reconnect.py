"""A PostgreSQL server that drops a station's connections (a restart, a failover, ``pg_terminate_backend``) costs
the station nothing: the next claim and the journal write after it run on fresh connections instead of failing
on the dropped ones, whether the pooled connection was used a moment ago or sat idle."""

from __future__ import annotations

import time

import psycopg
import pytest
from pg import pg_url  # noqa: F401  (fixture)

from station.store import NewPerson, open_store
from station.store import engine as store_engine

pytestmark = pytest.mark.realstack

GONE_TIMEOUT = 30.0


def _drop_connections(url: str) -> None:
    """End every server process of the database (as a restart does) and wait until they have all exited."""
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as admin:
        # the processes are listed first: a pg_terminate_backend in the same WHERE as the database's name may
        # run before that filter, on every process of the server
        others = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        pids = [pid for (pid,) in admin.execute(others)]
        assert pids
        admin.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", [pids])
        deadline = time.monotonic() + GONE_TIMEOUT
        while admin.execute(others).fetchone() is not None:
            assert time.monotonic() < deadline, "the ended server processes did not exit"
            time.sleep(0.05)


@pytest.mark.parametrize("idle", [False, True], ids=["just-used", "idle"])
def test_a_station_carries_on_after_the_server_drops_its_connections(
        pg_url: str, idle: bool, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    if idle:  # every pooled connection counts as idle long enough to be pinged
        monkeypatch.setattr(store_engine, "PING_AFTER_IDLE_SECONDS", -1.0)
    store = open_store(pg_url, "st-a")
    try:
        store.queue.add_people([NewPerson("a@contoso.com"), NewPerson("b@contoso.com")])
        assert store.queue.claim_next("st-a", 600) is not None
        _drop_connections(pg_url)
        person = store.queue.claim_next("st-a", 600)
        assert person is not None and person.upn == "b@contoso.com"
        _drop_connections(pg_url)
        row = store.journal.open(person.id, "st-a", lease_expires=time.time() + 600)
        assert store.journal.get(row.id) is not None
    finally:
        store.close()
