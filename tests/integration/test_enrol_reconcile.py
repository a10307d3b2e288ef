"""A crash at each journal state, then a restart: reconciliation resolves the row from what it proves.

The crash is real enough: the session's thread dies (SystemExit) right after — or right before — the
journal write of a given state, leaving the key, the database and Entra exactly as a power cut there
would. A new station on the same database then starts and must resolve the row before taking keys.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from enrol_harness import Station, build_station
from fido2.ctap2 import ClientPin, Ctap2
from support.waiting import wait_idle

from station.enroll.escrow import context_for, open_sealed
from station.enroll.ports import Step
from station.errors import InvalidStateError
from station.events import PersonClaimed
from station_emulator.entra import EntraEmulator
from station_emulator.key import VirtualKey
from station_emulator.key.ctaphid import open_virtual_device

# Graph's creation options live 5 minutes by default (the emulator's too).
CHALLENGE_LIFETIME_SECONDS = 5 * 60


class CrashingJournal:
    """The store's journal, except that the process 'dies' at one write."""

    def __init__(self, inner: Any, state: Step, before: bool) -> None:
        self.inner, self.state, self.before = inner, state, before

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def advance(self, enrolment_id: int, state: Any = None, **fields: Any) -> Any:
        if state == self.state and self.before:
            raise SystemExit
        row = self.inner.advance(enrolment_id, state, **fields)
        if state == self.state:
            raise SystemExit
        return row


@pytest.fixture(scope="module")
def emu() -> Iterator[EntraEmulator]:
    with EntraEmulator(users=20, seed=31) as e:
        yield e


CASES = [
    # (crash at, before the write?, reconciled to, person afterwards, POSTs in total)
    (Step.PIN_ESCROWED, True, "abandoned", "queued", 0),
    (Step.PIN_ESCROWED, False, "needs_reset", "queued", 0),
    (Step.PIN_SET, False, "needs_reset", "queued", 0),
    (Step.CREDENTIAL_MADE, False, "done", "enrolled", 1),
    (Step.REGISTERING, False, "done", "enrolled", 1),
    (Step.REGISTERED, True, "done", "enrolled", 1),
    (Step.REGISTERED, False, "done", "enrolled", 1),
]


# The simulated crash kills the session's thread; pytest reports that as an unhandled thread exception.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
@pytest.mark.parametrize(("crash_at", "before", "outcome", "person_after", "posts"), CASES,
                         ids=[f"{'before' if c[1] else 'after'}-{c[0].value}" for c in CASES])
def test_restart_resolves_a_crash(emu: EntraEmulator, tmp_path: Path, crash_at: Step, before: bool,
                                  outcome: str, person_after: str, posts: int) -> None:
    first: Station = build_station(emu, tmp_path, prefetch=0,
                                   journal=lambda j: CrashingJournal(j, crash_at, before))
    try:
        index = CASES.index((crash_at, before, outcome, person_after, posts))
        (user,) = first.queue_users(1, start=index)
        key = VirtualKey("fido21")
        first.keys.insert(key)
        claimed = first.events.wait_for(PersonClaimed)
        assert wait_idle(first.engine, 10)
        row = first.store.journal.get(claimed.enrolment_id)
        assert row is not None and not Step(row.state).terminal
        assert first.store.queue.get(user["userPrincipalName"]).state == "claimed"
    finally:
        first.close()

    second = build_station(emu, tmp_path, prefetch=0, start=False)
    try:
        report = second.engine.start()
        assert report.resolved == {claimed.enrolment_id: outcome}
        row = second.store.journal.get(claimed.enrolment_id)
        assert row is not None and row.state == outcome
        assert second.store.queue.get(user["userPrincipalName"]).state == person_after
        assert len(emu.tenant.methods_of(user["id"])) == (1 if outcome == "done" else 0)
        sent = [r for r in emu.request_log if r.method == "POST" and user["id"] in r.path]
        assert len(sent) == posts, "a registration was posted again instead of being looked up"
        if crash_at is Step.PIN_SET:
            pin = open_sealed(second.private_key(), row.pin_escrow, context_for(row.id))
            key.power_cycle()
            device = open_virtual_device(key)
            try:
                assert ClientPin(Ctap2(device)).get_pin_token(pin)
            finally:
                device.close()
    finally:
        second.close()


POSTS = r"/authentication/fido2Methods$"


def _lose_the_answer_then(emu: EntraEmulator, action: Callable[[], object]) -> Callable[[], None]:
    """The registration POST reaches Entra and is committed, its answer is lost, and ``action`` runs as it
    arrives (a refusal of the lookups that follow). Returns an undo."""
    original = emu.faults.before
    emu.faults.lose_next_response(POSTS, "POST")

    def before(method: str, path: str) -> Any:
        if method == "POST" and path.endswith("/authentication/fido2Methods"):
            action()
        return original(method, path)

    emu.faults.before = before  # type: ignore[method-assign]

    def undo() -> None:
        emu.faults.before = original  # type: ignore[method-assign]
    return undo


def _operator_retries(station: Station, upn: str) -> None:
    """What an operator does with a person who is not enrolled: put them back in the queue (refused while
    their enrolment is unresolved)."""
    with contextlib.suppress(InvalidStateError):
        station.store.queue.retry(upn)


def test_a_lookup_refused_with_403_never_gives_a_second_passkey(emu: EntraEmulator, tmp_path: Path) -> None:
    station = build_station(emu, tmp_path, prefetch=0)
    try:
        (user,) = station.queue_users(1, start=10)
        undo = _lose_the_answer_then(emu, lambda: emu.faults.inject(403, count=10**6, path=POSTS, method="GET"))
        try:
            station.keys.insert(VirtualKey("fido21"))
            claimed = station.events.wait_for(PersonClaimed)
            assert wait_idle(station.engine, 20)
            report = station.engine.reconciler.run(due_only=False)
            assert report.unresolved == [claimed.enrolment_id], "a refused lookup was taken as an answer"
            _operator_retries(station, user["userPrincipalName"])
            station.keys.insert(VirtualKey("fido21"))
            assert wait_idle(station.engine, 20)
        finally:
            undo()
            emu.faults.clear()
        assert station.engine.reconciler.run(due_only=False).resolved == {claimed.enrolment_id: "done"}
        assert station.store.queue.get(user["userPrincipalName"]).state == "enrolled"
        assert len(emu.tenant.methods_of(user["id"])) == 1
    finally:
        station.close()


def test_a_rotated_secret_then_a_restart_with_the_new_one_gives_one_passkey(emu: EntraEmulator,
                                                                            tmp_path: Path) -> None:
    """Graph answers 401 (the client secret was rotated) to every lookup after the lost answer; the station
    is started again with the new secret and settles the row from Entra's answer."""
    first = build_station(emu, tmp_path, prefetch=0)
    try:
        (user,) = first.queue_users(1, start=11)
        undo = _lose_the_answer_then(emu, emu.faults.rotate_secret)
        try:
            first.keys.insert(VirtualKey("fido21"))
            claimed = first.events.wait_for(PersonClaimed)
            assert wait_idle(first.engine, 20)
        finally:
            undo()
        assert first.engine.reconciler.run(due_only=False).unresolved == [claimed.enrolment_id]
        assert first.store.queue.get(user["userPrincipalName"]).state == "claimed"
    finally:
        first.close()
    second = build_station(emu, tmp_path, prefetch=0)
    try:
        assert second.store.journal.get(claimed.enrolment_id).state == "done"  # type: ignore[union-attr]
        second.keys.insert(VirtualKey("fido21"))
        assert wait_idle(second.engine, 20)
        assert second.store.queue.get(user["userPrincipalName"]).state == "enrolled"
        assert len(emu.tenant.methods_of(user["id"])) == 1
    finally:
        second.close()


# The simulated crash kills the session's thread; pytest reports that as an unhandled thread exception.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_challenge_that_expired_while_the_station_was_down_requeues_the_person(emu: EntraEmulator,
                                                                                 tmp_path: Path) -> None:
    """Crash after the credential was made, stay down past the challenge's lifetime: the restart asks Entra
    (nothing there), Graph refuses the re-post as expired, and the person is queued again at once."""
    first = build_station(emu, tmp_path, prefetch=0,
                          journal=lambda j: CrashingJournal(j, Step.REGISTERING, before=True))
    try:
        (user,) = first.queue_users(1, start=12)
        first.keys.insert(VirtualKey("fido21"))
        claimed = first.events.wait_for(PersonClaimed)
        assert wait_idle(first.engine, 10)
    finally:
        first.close()
    emu.advance_clock(CHALLENGE_LIFETIME_SECONDS + 60)
    second = build_station(emu, tmp_path, prefetch=0, start=False)
    try:
        report = second.engine.start()
        assert report.resolved == {claimed.enrolment_id: "needs_reset"} and report.unresolved == []
        assert second.store.queue.get(user["userPrincipalName"]).state == "queued"
        second.keys.insert(VirtualKey("fido21"))
        assert wait_idle(second.engine, 20)
        assert second.store.queue.get(user["userPrincipalName"]).state == "enrolled"
        assert len(emu.tenant.methods_of(user["id"])) == 1
    finally:
        second.close()
