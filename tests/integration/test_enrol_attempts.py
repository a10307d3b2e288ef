"""A person whose enrolment keeps failing uses at most ``enrolment.max_attempts`` keys, then is marked failed
with the last reason; after each failure they wait behind everyone not yet tried. A Graph outage uses up
nobody's attempts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from enrol_harness import Station, build_station
from support.waiting import wait_idle

from station.events import PersonClaimed
from station_emulator.entra import EntraEmulator
from station_emulator.key import VirtualKey

MAX_ATTEMPTS = 3


@pytest.fixture(scope="module")
def emu() -> Iterator[EntraEmulator]:
    with EntraEmulator(users=12, seed=57) as e:
        yield e


@pytest.fixture
def station(emu: EntraEmulator, tmp_path: Path) -> Iterator[Station]:
    s = build_station(emu, tmp_path, prefetch=0, max_attempts=MAX_ATTEMPTS)
    yield s
    s.close()
    emu.faults.clear()


def enrol_one_key(station: Station) -> str:
    """Insert a fresh key, let the session end; the UPN it claimed."""
    seen = len(station.events.of(PersonClaimed))
    station.keys.insert(VirtualKey("fido21"))
    station.wait(lambda: len(station.events.of(PersonClaimed)) > seen)
    assert wait_idle(station.engine, 20)
    return station.events.of(PersonClaimed)[-1].upn


def test_a_person_who_always_fails_uses_at_most_max_attempts_keys(emu: EntraEmulator, station: Station) -> None:
    doomed, other, third = station.queue_users(3)
    # Graph refuses every registration for this person (a 400 that no retry changes).
    emu.faults.inject(400, count=10**6, method="POST", path=f"/users/{doomed['id']}/authentication/fido2Methods$")
    claimed = [enrol_one_key(station) for _ in range(5)]
    assert claimed == [doomed["userPrincipalName"], other["userPrincipalName"], third["userPrincipalName"],
                       doomed["userPrincipalName"], doomed["userPrincipalName"]]
    person = station.store.queue.get(doomed["userPrincipalName"])
    assert (person.state, person.failures) == ("failed", MAX_ATTEMPTS)
    assert person.note.startswith(f"failed {MAX_ATTEMPTS} attempts; last: graph_bad_request: ")
    rows = station.store.journal.for_person(person.id)
    assert [r.state for r in rows] == ["needs_reset"] * MAX_ATTEMPTS
    assert [station.store.queue.get(u["userPrincipalName"]).state for u in (other, third)] == ["enrolled"] * 2

    emu.faults.clear()
    station.store.queue.retry(doomed["userPrincipalName"])
    assert station.store.queue.get(doomed["userPrincipalName"]).failures == 0
    assert enrol_one_key(station) == doomed["userPrincipalName"]
    assert station.store.queue.get(doomed["userPrincipalName"]).state == "enrolled"
    assert len(emu.tenant.methods_of(doomed["id"])) == 1


def test_a_graph_outage_uses_up_no_attempts(emu: EntraEmulator, station: Station) -> None:
    (user,) = station.queue_users(1, start=6)
    emu.faults.inject(503, count=10**6, path="/creationOptions", retry_after=0)
    for _ in range(MAX_ATTEMPTS + 1):
        assert enrol_one_key(station) == user["userPrincipalName"]
    person = station.store.queue.get(user["userPrincipalName"])
    assert (person.state, person.failures) == ("queued", 0)
