"""Reconciliation resolves every unfinished journal row by what it proves, never by a blind re-post."""

from __future__ import annotations

import threading
import time

import pytest
from fakes import UNCERTAIN, FakePasskeys
from fido2.utils import websafe_encode

from station.enroll.ports import SystemClock
from station.enroll.reconcile import TAKEOVER_GRACE_SECONDS, Reconciler
from station.errors import GraphError, Reason
from station.events import EventBus
from station.store import JournalRow, JournalState, NewPerson, Store

CRED = b"\x01" * 40


def row_in(store: Store, state: JournalState, upn: str = "p@example.com", station: str = "s1") -> JournalRow:
    store.queue.add_people([NewPerson(upn=upn, object_id=f"oid-{upn}")])
    person = store.queue.claim_next(station, 600)
    assert person is not None and person.upn == upn
    row = store.journal.open(person.id, station, slot="Virtual 1", lease_expires=time.time() + 600)
    fields: dict[str, object] = {"pin_escrow": "x25519:v1:sealed"}
    if state in (JournalState.CREDENTIAL_MADE, JournalState.REGISTERING, JournalState.REGISTERED):
        fields.update(credential_id=websafe_encode(CRED), attestation_object=websafe_encode(b"att"),
                      client_data_json=websafe_encode(b"{}"), display_name="Key 2026-11-29")
    if state is JournalState.REGISTERED:
        fields["method_id"] = "m-1"
    return store.journal.advance(row.id, state, **fields)


def reconciler(store: Store, fake: FakePasskeys, station: str = "s1") -> Reconciler:
    return Reconciler(station, store.queue, store.journal, store.audit, fake, EventBus(), SystemClock(),
                      threading.Semaphore(1), 600)


@pytest.mark.parametrize(("state", "outcome", "person_state"), [
    (JournalState.CLAIMED, "abandoned", "queued"),
    (JournalState.PIN_ESCROWED, "needs_reset", "queued"),
    (JournalState.PIN_SET, "needs_reset", "queued"),
    (JournalState.CREDENTIAL_MADE, "done", "enrolled"),
    (JournalState.REGISTERING, "done", "enrolled"),
    (JournalState.REGISTERED, "done", "enrolled"),
])
def test_each_state_is_resolved(store: Store, state: JournalState, outcome: str, person_state: str) -> None:
    row = row_in(store, state)
    report = reconciler(store, FakePasskeys()).run()
    assert report.resolved == {row.id: outcome}
    after = store.journal.get(row.id)
    assert after is not None and after.state == outcome
    assert after.pin_escrow == "x25519:v1:sealed"
    assert store.queue.get("p@example.com").state == person_state


def test_a_registration_that_reached_entra_is_not_posted_again(store: Store) -> None:
    row = row_in(store, JournalState.REGISTERING)
    fake = FakePasskeys()
    fake.methods["oid-p@example.com"] = {CRED: "m-existing"}
    reconciler(store, fake).run()
    after = store.journal.get(row.id)
    assert after is not None and after.method_id == "m-existing" and fake.posts == []


def test_an_unknown_outcome_stays_for_later(store: Store) -> None:
    row = row_in(store, JournalState.REGISTERING)
    fake = FakePasskeys()
    fake.fail_list = UNCERTAIN
    report = reconciler(store, fake).run()
    assert report.unresolved == [row.id]
    after = store.journal.get(row.id)
    assert after is not None and after.state == "registering" and fake.posts == []
    assert store.queue.get("p@example.com").state == "claimed"


def test_a_refused_registration_leaves_an_orphan_to_reset(store: Store) -> None:
    row = row_in(store, JournalState.CREDENTIAL_MADE)
    fake = FakePasskeys()
    fake.fail_post = GraphError("expired", status=400, reason=Reason.CHALLENGE_EXPIRED)
    reconciler(store, fake).run()
    after = store.journal.get(row.id)
    assert after is not None and after.state == "needs_reset" and after.error_reason == "challenge_expired"
    assert store.queue.get("p@example.com").state == "queued"


def test_a_user_gone_from_entra_is_marked_failed(store: Store) -> None:
    row_in(store, JournalState.CREDENTIAL_MADE)
    fake = FakePasskeys()
    fake.gone.add("oid-p@example.com")
    reconciler(store, fake).run()
    assert store.queue.get("p@example.com").state == "failed"


def test_another_stations_row_is_only_taken_once_its_lease_ran_out(store: Store) -> None:
    row = row_in(store, JournalState.PIN_SET, station="s2")
    assert reconciler(store, FakePasskeys()).run().resolved == {}
    store.journal.advance(row.id, None, lease_expires=time.time() - 1)
    assert reconciler(store, FakePasskeys()).run().resolved == {}, "adopted within the grace period"
    store.journal.advance(row.id, None, lease_expires=time.time() - TAKEOVER_GRACE_SECONDS - 1)
    assert reconciler(store, FakePasskeys()).run(only=[]).resolved == {row.id: "needs_reset"}
    after = store.journal.get(row.id)
    assert after is not None and after.station_id == "s1"
