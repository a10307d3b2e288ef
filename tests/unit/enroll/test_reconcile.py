"""Reconciliation resolves every unfinished journal row by what it proves, never by a blind re-post."""

from __future__ import annotations

import time

import pytest
from fakes import UNCERTAIN, FakePasskeys
from fido2.utils import websafe_encode

from station.enroll.graph_gate import GraphGate
from station.enroll.ports import SystemClock
from station.enroll.reconcile import (
    RECHECK_BASE_SECONDS,
    RECHECK_CAP_SECONDS,
    TAKEOVER_GRACE_SECONDS,
    Reconciler,
    recheck_delay,
)
from station.errors import AuthError, GraphError, InvalidStateError, Reason, StoreNotWritableError
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
                      GraphGate(1), 600)


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


REFUSED_LOOKUPS = [
    GraphError("list passkeys: Graph answered 403 Authorization_RequestDenied", status=403,
               reason=Reason.GRAPH_DENIED),
    AuthError("the authority refused a token: invalid_client", code="invalid_client"),
    GraphError("list passkeys: Graph answered 503", status=503, reason=Reason.GRAPH_UNAVAILABLE, retryable=True),
    UNCERTAIN,
]


@pytest.mark.parametrize("refusal", REFUSED_LOOKUPS, ids=["403", "401", "503", "timeout"])
def test_a_refused_lookup_is_never_taken_as_not_registered(store: Store, refusal: GraphError) -> None:
    """The registration may have reached Entra: a lookup Entra refused proves nothing, so nothing is posted,
    the person stays claimed, and the row waits, unresolved, for a check Entra answers."""
    row = row_in(store, JournalState.REGISTERING)
    fake = FakePasskeys()
    fake.methods["oid-p@example.com"] = {CRED: "m-made-before-the-answer-was-lost"}
    fake.fail_list = refusal
    before = time.time()
    report = reconciler(store, fake).run()
    assert report.unresolved == [row.id] and report.resolved == {}
    after = store.journal.get(row.id)
    assert after is not None and after.state == "registering" and fake.posts == []
    assert after.checks == 1 and after.unresolved is not None and str(refusal.reason) in after.unresolved
    assert after.next_check_at is not None and after.next_check_at >= before + recheck_delay(1)
    assert after.lease_expires is not None and after.lease_expires <= time.time(), "the lease is handed back"
    assert store.queue.get("p@example.com").state == "claimed"
    assert store.journal.unresolved_rows() == [after]

    fake.fail_list = None
    assert reconciler(store, fake).run().resolved == {}, "checked again before its time"
    assert reconciler(store, fake).run(due_only=False).resolved == {row.id: "done"}
    assert store.queue.get("p@example.com").state == "enrolled" and fake.posts == []
    assert store.journal.unresolved_rows() == []


def test_checks_back_off_until_a_cap() -> None:
    delays = [recheck_delay(n) for n in range(1, 12)]
    assert delays[:3] == [RECHECK_BASE_SECONDS, 2 * RECHECK_BASE_SECONDS, 4 * RECHECK_BASE_SECONDS]
    assert delays == sorted(delays) and delays[-1] == RECHECK_CAP_SECONDS


def test_an_expired_challenge_is_settled_not_retried(store: Store) -> None:
    """Graph's 400 'challenge has expired' is retryable for a fresh registration, but this credential was
    made on that challenge and can never be registered: Entra said it has none, so the person is requeued."""
    row = row_in(store, JournalState.REGISTERING)
    fake = FakePasskeys()
    fake.fail_post = GraphError("register passkey: Graph answered 400: The challenge has expired.", status=400,
                                reason=Reason.CHALLENGE_EXPIRED, retryable=True)
    assert reconciler(store, fake).run().resolved == {row.id: "needs_reset"}
    assert fake.posts == ["oid-p@example.com"]
    assert store.queue.get("p@example.com").state == "queued"


def test_a_registration_refused_for_want_of_a_token_stays_unresolved(store: Store) -> None:
    row = row_in(store, JournalState.CREDENTIAL_MADE)
    fake = FakePasskeys()
    fake.fail_post = AuthError("the authority refused a token: invalid_client", code="invalid_client")
    assert reconciler(store, fake).run().unresolved == [row.id]
    after = store.journal.get(row.id)
    assert after is not None and after.state == "credential_made"
    assert store.queue.get("p@example.com").state == "claimed"


def test_an_operator_resolves_a_row_no_station_works_on(store: Store) -> None:
    row = row_in(store, JournalState.REGISTERING)
    fake = FakePasskeys()
    fake.fail_list = AuthError("the authority refused a token: invalid_client", code="invalid_client")
    rec = reconciler(store, fake)
    with pytest.raises(InvalidStateError, match="held by station s1 until"):
        rec.resolve_now(row, "resolve@s1")
    rec.run()
    idle = store.journal.get(row.id)
    assert idle is not None
    with pytest.raises(AuthError):
        rec.resolve_now(idle, "resolve@s1")
    again = store.journal.get(row.id)
    assert again is not None and again.station_id == "s1" and again.checks == 2, "handed back to its station"
    fake.fail_list = None
    assert rec.resolve_now(again, "resolve@s1") == "done"
    assert store.queue.get("p@example.com").state == "enrolled" and fake.posts == ["oid-p@example.com"]
    assert [e.detail["by"] for e in store.audit.entries(enrolment_id=row.id) if e.kind == "reconciled"] == ["operator"]


def test_a_store_that_cannot_record_the_failed_check_does_not_stop_the_run(store: Store) -> None:
    """A full disk while Entra also refuses: the row stays as it was, the run goes on to the next row."""
    first, second = row_in(store, JournalState.REGISTERING), row_in(store, JournalState.CLAIMED, upn="q@example.com")
    fake = FakePasskeys()
    fake.fail_list = UNCERTAIN

    class FullJournal:
        def __getattr__(self, name: str) -> object:
            return getattr(store.journal, name)

        def check_failed(self, *args: object, **kwargs: object) -> None:
            raise StoreNotWritableError("store not writable: disk full (station.db)")

    rec = Reconciler("s1", store.queue, FullJournal(), store.audit, fake, EventBus(), SystemClock(),  # type: ignore[arg-type]
                     GraphGate(1), 600)
    report = rec.run()
    assert report.unresolved == [first.id] and report.resolved == {second.id: "abandoned"}
    after = store.journal.get(first.id)
    assert after is not None and after.state == "registering" and after.checks == 0
