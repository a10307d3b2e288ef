"""Eight station processes claim concurrently from one PostgreSQL queue of 20,000 people: each person is
claimed exactly once (``FOR UPDATE SKIP LOCKED``), by the station holding their lease."""

from __future__ import annotations

import multiprocessing as mp

import pytest
from pg import pg_url  # noqa: F401  (fixture)
from sqlalchemy import insert

from station.store import open_store
from station.store.models import Person, now

pytestmark = pytest.mark.realstack

PEOPLE = 20_000
STATIONS = 8


def _station(url: str, station: str, out: mp.Queue) -> None:  # type: ignore[type-arg]
    store = open_store(url, station)
    got = []
    while (person := store.queue.claim_next(station, 600)) is not None:
        got.append(person.id)
    store.close()
    out.put((station, got))


@pytest.mark.timeout(600)
def test_each_person_claimed_exactly_once(pg_url: str) -> None:  # noqa: F811
    store = open_store(pg_url)
    t = now()
    with store.engine.begin() as conn:
        conn.execute(insert(Person), [{"upn": f"user{i}@contoso.com", "display_name": f"User {i}", "source": "test",
                                       "created_at": t, "updated_at": t} for i in range(PEOPLE)])
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    procs = [ctx.Process(target=_station, args=(pg_url, f"st{i}", out)) for i in range(STATIONS)]
    try:
        for p in procs:
            p.start()
        results = dict(out.get(timeout=500) for _ in procs)
        for p in procs:
            p.join(timeout=30)
            assert p.exitcode == 0
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join(5)
    claimed = [pid for got in results.values() for pid in got]
    assert len(claimed) == PEOPLE and len(set(claimed)) == PEOPLE
    assert all(results[f"st{i}"] for i in range(STATIONS)), "a station never got to claim"
    assert store.queue.counts()["claimed"] == PEOPLE
    holder = {p.id: p.lease_station for p in store.queue.list()}
    assert all(holder[pid] == station for station, got in results.items() for pid in got)
    store.close()
