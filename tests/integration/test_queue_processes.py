"""Claims are atomic across processes on one SQLite file: 4 processes x 2,000 claims over 8,000 people."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

from station.store import NewPerson, open_store


def _claimer(url: str, station: str, n: int, out: mp.Queue) -> None:  # type: ignore[type-arg]
    store = open_store(url, station)
    got = []
    for _ in range(n):
        person = store.queue.claim_next(station, 600)
        if person is not None:
            got.append(person.id)
    store.close()
    out.put(got)


def test_each_person_claimed_exactly_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    store = open_store(url)
    store.queue.add_people(NewPerson(f"user{i}@contoso.com") for i in range(8_000))
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    procs = [ctx.Process(target=_claimer, args=(url, f"st{i}", 2_000, out)) for i in range(4)]
    for p in procs:
        p.start()
    results = [out.get(timeout=240) for _ in procs]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    claimed = [pid for r in results for pid in r]
    assert len(claimed) == 8_000
    assert len(set(claimed)) == 8_000
    counts = store.queue.counts()
    assert counts["claimed"] == 8_000 and counts["queued"] == 0
    stations = {p.lease_station for p in store.queue.list()}
    assert stations == {"st0", "st1", "st2", "st3"}
