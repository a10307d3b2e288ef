"""Prefetching: options for the next people wait ready; stale ones are refreshed; no person gets two."""

from __future__ import annotations

import threading
from datetime import timedelta

from fakes import FakePasskeys
from support.waiting import wait_until

from station.enroll.graph_gate import GraphGate
from station.enroll.prefetch import Prefetcher
from station.store import NewPerson, Store


def people(store: Store, n: int) -> None:
    store.queue.add_people(NewPerson(upn=f"p{i}@example.com", object_id=f"oid-{i}") for i in range(n))


def refreshing(store: Store, queued: int, permits: int, size: int) -> tuple[FakePasskeys, Prefetcher, threading.Thread]:
    """``queued`` people and a prefetcher whose refresh runs on a thread of its own, its Graph calls held until
    the test sets ``fake.slow``."""
    people(store, queued)
    fake = FakePasskeys()
    fake.slow.clear()
    pf = Prefetcher(store.queue, fake, GraphGate(permits), size=size, margin=timedelta(seconds=1))
    worker = threading.Thread(target=pf.refresh)
    worker.start()
    return fake, pf, worker


def test_options_are_ready_for_the_next_people(store: Store) -> None:
    people(store, 6)
    fake = FakePasskeys()
    pf = Prefetcher(store.queue, fake, GraphGate(2), size=3, margin=timedelta(seconds=30))
    assert pf.refresh() == 3
    assert fake.option_calls == ["oid-0", "oid-1", "oid-2"]
    assert pf.refresh() == 0
    person = store.queue.claim_next("s", 60)
    assert person is not None
    options = pf.take(person)
    assert options is not None and options.user_id == "oid-0"
    pf.refresh()
    assert fake.option_calls[-1] == "oid-3"
    assert "oid-0" not in fake.option_calls[3:]


def test_options_close_to_expiry_are_refetched(store: Store) -> None:
    people(store, 1)
    fake = FakePasskeys(lifetime=timedelta(seconds=20))
    pf = Prefetcher(store.queue, fake, GraphGate(1), size=1, margin=timedelta(seconds=30))
    pf.refresh()
    pf.refresh()
    assert fake.option_calls == ["oid-0", "oid-0"]
    person = store.queue.claim_next("s", 60)
    assert person is not None and pf.take(person) is None


def test_a_taken_person_is_not_fetched_in_the_background(store: Store) -> None:
    people(store, 1)
    fake = FakePasskeys()
    pf = Prefetcher(store.queue, fake, GraphGate(1), size=1, margin=timedelta(seconds=1))
    person = store.queue.get("p0@example.com")
    assert pf.take(person) is None
    pf.refresh()
    assert fake.option_calls == []


def test_take_waits_for_a_fetch_under_way(store: Store) -> None:
    fake, pf, worker = refreshing(store, queued=1, permits=1, size=1)
    person = store.queue.get("p0@example.com")
    assert fake.entered.wait(5)
    threading.Timer(0.1, fake.slow.set).start()
    options = pf.take(person)
    worker.join()
    assert options is not None and fake.option_calls == ["oid-0"]


def test_the_next_people_are_fetched_side_by_side(store: Store) -> None:
    fake, _, worker = refreshing(store, queued=3, permits=4, size=3)
    wait_until(lambda: fake.under_way == 2, "two fetches under way")
    fake.slow.set()
    worker.join()
    assert sorted(fake.option_calls) == ["oid-0", "oid-1", "oid-2"]
    assert fake.most_at_once == 2  # the gate's prefetch share of its 4 permits


def test_a_session_does_not_wait_for_a_prefetch_not_yet_started(store: Store) -> None:
    fake, pf, worker = refreshing(store, queued=2, permits=1, size=2)
    assert fake.entered.wait(5)
    assert pf.take(store.queue.get("p1@example.com")) is None  # p0's fetch holds the one permit
    fake.slow.set()
    worker.join()
    assert fake.option_calls == ["oid-0"]
    assert pf.cached() == [store.queue.get("p0@example.com").id]
