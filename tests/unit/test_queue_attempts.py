"""Failed attempts on the queue: the cap, the order after a failure, and what an operator is told about a
claimed person."""

from __future__ import annotations

import pytest

from station.errors import InvalidStateError
from station.store import NewPerson, Store


def claim(store: Store, station: str = "s1") -> str:
    person = store.queue.claim_next(station, 600)
    assert person is not None
    return person.upn


def test_a_failed_attempt_moves_the_person_behind_everyone_not_yet_tried(store: Store) -> None:
    store.queue.add_people([NewPerson("a@x.com"), NewPerson("b@x.com"), NewPerson("c@x.com", priority=0)])
    a = store.queue.get("a@x.com")
    assert claim(store) == "a@x.com"
    assert store.queue.requeue_failed(a.id, "s1", "key_error: the key stopped answering", 3) == "queued"
    assert [p.upn for p in store.queue.peek_next(5)] == ["b@x.com", "c@x.com", "a@x.com"]
    store.queue.add_people([NewPerson("d@x.com")])
    assert [p.upn for p in store.queue.peek_next(5)] == ["b@x.com", "c@x.com", "d@x.com", "a@x.com"]
    store.queue.add_people([NewPerson("vip@x.com", priority=5)])
    assert store.queue.peek_next(1)[0].upn == "vip@x.com", "priority still comes first"


def test_the_last_allowed_failure_marks_the_person_failed_with_its_reason(store: Store) -> None:
    store.queue.add_people([NewPerson("a@x.com")])
    a = store.queue.get("a@x.com")
    for expected in ("queued", "queued", "failed"):
        assert claim(store) == "a@x.com"
        assert store.queue.requeue_failed(a.id, "s1", "touch_timeout: not touched in time", 3) == expected
    after = store.queue.get("a@x.com")
    assert (after.state, after.failures, after.lease_station) == ("failed", 3, None)
    assert after.note == "failed 3 attempts; last: touch_timeout: not touched in time"
    assert store.queue.claim_next("s1", 600) is None


def test_only_the_station_holding_the_person_counts_a_failure(store: Store) -> None:
    store.queue.add_people([NewPerson("a@x.com")])
    a = store.queue.get("a@x.com")
    claim(store, "s1")
    assert store.queue.requeue_failed(a.id, "s2", "key_error: gone", 3) is None
    assert store.queue.get("a@x.com").state == "claimed"


@pytest.mark.parametrize("action", ["retry", "skip"])
def test_a_claimed_person_is_refused_with_the_way_out(store: Store, action: str) -> None:
    store.queue.add_people([NewPerson("a@x.com")])
    claim(store, "desk-7")
    with pytest.raises(InvalidStateError) as refused:
        getattr(store.queue, action)("a@x.com")
    assert "claimed by station desk-7" in refused.value.message
    assert "station queue resolve a@x.com" in refused.value.remedy
