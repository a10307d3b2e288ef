"""Queue semantics: any sequence of operations never loses or duplicates a person (hypothesis state machine)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from station.errors import InvalidStateError
from station.store import NewPerson, PersonState, open_store

UPNS = [f"user{i}@contoso.com" for i in range(12)]
# Display names as a directory may hold them; control and format characters are refused at the door
# (tests/unit/test_untrusted_text.py), so the queue's own semantics are exercised with names that get in.
NAMES = st.text(alphabet=st.characters(exclude_categories=("Cc", "Cf", "Cs", "Zl", "Zp")), max_size=5)


class QueueMachine(RuleBasedStateMachine):
    """A model of who should be in which state, checked against the real SQLite queue."""

    @initialize()
    def open(self) -> None:
        self.dir = tempfile.TemporaryDirectory()
        self.store = open_store(f"sqlite:///{Path(self.dir.name) / 'q.db'}", "st")
        self.model: dict[str, str] = {}
        self.clock = 1_000.0

    def teardown(self) -> None:
        self.store.close()
        self.dir.cleanup()

    def _id(self, upn: str) -> int:
        return self.store.queue.get(upn).id

    @rule(upn=st.sampled_from(UPNS), name=NAMES)
    def add(self, upn: str, name: str) -> None:
        self.store.queue.add_people([NewPerson(upn=upn.upper(), display_name=name)])
        self.model.setdefault(upn, PersonState.QUEUED.value)

    @rule()
    def claim(self) -> None:
        got = self.store.queue.claim_next("st", 60)
        queued = [u for u in self.model if self.model[u] == "queued"]
        if not queued:
            assert got is None
            return
        assert got is not None and got.upn == min(queued, key=self._id)
        self.model[got.upn] = "claimed"

    @precondition(lambda self: any(s == "claimed" for s in self.model.values()))
    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        upn = data.draw(st.sampled_from(sorted(u for u, s in self.model.items() if s == "claimed")))
        assert self.store.queue.release(self._id(upn), "st")
        self.model[upn] = "queued"

    @precondition(lambda self: any(s == "claimed" for s in self.model.values()))
    @rule(data=st.data(), outcome=st.sampled_from([PersonState.ENROLLED, PersonState.FAILED]))
    def finish(self, data: st.DataObject, outcome: PersonState) -> None:
        upn = data.draw(st.sampled_from(sorted(u for u, s in self.model.items() if s == "claimed")))
        self.store.queue.mark(self._id(upn), outcome)
        self.model[upn] = outcome.value

    @rule()
    def expire_all(self) -> None:
        self.store.queue.expire_stale_leases(at=10**12)
        for u, s in self.model.items():
            if s == "claimed":
                self.model[u] = "queued"

    @rule(upn=st.sampled_from(UPNS))
    def retry(self, upn: str) -> None:
        if upn not in self.model:
            return
        if self.model[upn] in ("failed", "skipped"):
            self.store.queue.retry(upn)
            self.model[upn] = "queued"
        else:
            with pytest.raises(InvalidStateError):
                self.store.queue.retry(upn)

    @rule(upn=st.sampled_from(UPNS))
    def skip(self, upn: str) -> None:
        if upn not in self.model:
            return
        if self.model[upn] in ("queued", "failed"):
            self.store.queue.skip(upn)
            self.model[upn] = "skipped"
        else:
            with pytest.raises(InvalidStateError):
                self.store.queue.skip(upn)

    @invariant()
    def matches_model(self) -> None:
        if not hasattr(self, "store"):
            return
        people = self.store.queue.list()
        assert len(people) == len({p.upn for p in people}) == len(self.model)
        assert {p.upn: p.state for p in people} == self.model
        for p in people:
            assert (p.lease_station is not None) == (p.state == "claimed")


TestQueueSemantics = QueueMachine.TestCase
TestQueueSemantics.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)


def test_priority_then_import_order(store) -> None:  # type: ignore[no-untyped-def]
    store.queue.add_people([NewPerson("a@x.com"), NewPerson("b@x.com", priority=5), NewPerson("c@x.com")])
    order = [store.queue.claim_next("st", 60).upn for _ in range(3)]
    assert order == ["b@x.com", "a@x.com", "c@x.com"]
    assert store.queue.claim_next("st", 60) is None


def test_pre_assigned_person_only_goes_to_their_key(store) -> None:  # type: ignore[no-untyped-def]
    store.queue.add_people([NewPerson("kim@x.com", key_serial="SN-1"), NewPerson("lee@x.com")])
    assert store.queue.claim_next("st", 60).upn == "lee@x.com"
    assert store.queue.claim_next("st", 60) is None
    assert store.queue.claim_next("st", 60, ["SN-9", "SN-1"]).upn == "kim@x.com"


def test_lease_expiry_keeps_people_with_unfinished_journal(store) -> None:  # type: ignore[no-untyped-def]
    store.queue.add_people([NewPerson("a@x.com"), NewPerson("b@x.com")])
    a = store.queue.claim_next("st", 1)
    store.queue.claim_next("st", 1)
    store.journal.open(a.id, "st")
    assert store.queue.expire_stale_leases(at=10**12) == 1
    assert store.queue.get("a@x.com").state == "claimed"
    assert store.queue.get("b@x.com").state == "queued"
