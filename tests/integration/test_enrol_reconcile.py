"""A crash at each journal state, then a restart: reconciliation resolves the row from what it proves.

The crash is real enough: the session's thread dies (SystemExit) right after — or right before — the
journal write of a given state, leaving the key, the database and Entra exactly as a power cut there
would. A new station on the same database then starts and must resolve the row before taking keys.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from enrol_harness import Station, build_station
from fido2.ctap2 import ClientPin, Ctap2

from station.emulator.entra import EntraEmulator
from station.emulator.key import VirtualKey
from station.emulator.key.ctaphid import open_virtual_device
from station.enroll.escrow import context_for, open_sealed
from station.enroll.ports import Step
from station.events import PersonClaimed


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
        assert first.engine.wait_idle(10)
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
