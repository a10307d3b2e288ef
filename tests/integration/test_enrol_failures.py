"""Each way an enrolment can fail, produced for real and checked: reason code, remedy, what happened to
the person, the journal row and the key. Plus pre-assignment, uncertain registrations and intake control."""

from __future__ import annotations

import hashlib
import itertools
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from enrol_harness import Station, build_station
from fido2.ctap2 import ClientPin, Ctap2
from support.store_helpers import assign_key
from support.waiting import wait_idle

from station.enroll.escrow import context_for, open_sealed
from station.events import EnrolmentDone, EnrolmentFailed, KeyRejected, PersonClaimed, TouchRequired
from station_emulator.entra import EntraEmulator
from station_emulator.entra.codec import url_token_encode
from station_emulator.entra.tenant import Fido2Method
from station_emulator.key import Finger, VirtualKey
from station_emulator.key.ctaphid import open_virtual_device

V21 = "5a7e0000-2100-4000-8000-5a7e10000021"
_offsets = itertools.count(0, 3)


@pytest.fixture(scope="module")
def emu() -> Iterator[EntraEmulator]:
    with EntraEmulator(users=120, seed=23) as e:
        yield e


@pytest.fixture
def make_station(emu: EntraEmulator, tmp_path: Path) -> Iterator[Any]:
    made: list[Station] = []

    def make(**policy: Any) -> Station:
        policy.setdefault("prefetch", 0)
        s = build_station(emu, tmp_path, **policy)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()
    emu.faults.clear()


def users(station: Station, n: int = 1, **kw: Any) -> list[dict[str, Any]]:
    return station.queue_users(n, start=next(_offsets), **kw)


def with_pin(key: VirtualKey, pin: str = "90817263") -> VirtualKey:
    device = open_virtual_device(key)
    try:
        ClientPin(Ctap2(device)).set_pin(pin)
    finally:
        device.close()
    return key


def rejected(station: Station, reason: str) -> KeyRejected:
    event = station.events.wait_for(KeyRejected)
    assert event.reason == reason, event
    assert event.remedy
    return event


def failed(station: Station, reason: str) -> EnrolmentFailed:
    event = station.events.wait_for(EnrolmentFailed)
    assert event.reason == reason, event
    assert event.remedy and event.enrolment_id is not None
    wait_idle(station.engine, 5)
    return event


def person_state(station: Station, user: dict[str, Any]) -> str:
    return station.store.queue.get(user["userPrincipalName"]).state


# -- refused before anyone is claimed -------------------------------------------------------------
def test_queue_empty(make_station: Any) -> None:
    station = make_station()
    key = VirtualKey("fido21")
    station.keys.insert(key)
    rejected(station, "queue_empty")
    assert not key.state.pin_set


def test_pin_already_set_is_refused_and_the_person_stays_queued(make_station: Any) -> None:
    station = make_station()
    (user,) = users(station)
    station.keys.insert(with_pin(VirtualKey("fido21")))
    event = rejected(station, "pin_already_set")
    assert "used before" in event.remedy
    assert person_state(station, user) == "queued"


def test_used_key_is_reset_on_reinsertion_when_policy_allows(make_station: Any) -> None:
    station = make_station(used_key="reset")
    (user,) = users(station)
    key = with_pin(VirtualKey("fido21", finger=Finger.after(0.05)))
    station.keys.insert(key, slot="Hub 1")
    event = rejected(station, "key_needs_reset")
    assert "within 10 seconds" in event.remedy
    station.keys.remove("Hub 1")
    station.keys.insert(key, slot="Hub 1")
    done = station.events.wait_for(EnrolmentDone)
    assert done.upn == user["userPrincipalName"]
    assert len(key.state.residents) == 1


def test_reset_outside_the_window_is_explained(make_station: Any) -> None:
    station = make_station(used_key="reset")
    users(station)
    ticks = itertools.count(0.0, 11.0)
    key = with_pin(VirtualKey("fido21", clock=lambda: next(ticks)))
    station.keys.insert(key, slot="Hub 1")
    rejected(station, "key_needs_reset")
    station.keys.remove("Hub 1")
    station.events.events.clear()
    station.keys.insert(key, slot="Hub 1")
    rejected(station, "reset_window")
    assert key.state.pin_set


def test_aaguid_not_allowed(make_station: Any) -> None:
    station = make_station(allowed_aaguids=["cb69481e-8ff7-4039-93ec-0a2729a154a8"])
    users(station)
    station.keys.insert(VirtualKey("fido21"))
    rejected(station, "aaguid_not_allowed")


def test_u2f_only_key(make_station: Any) -> None:
    station = make_station()
    users(station)
    station.keys.insert(VirtualKey("u2f"))
    rejected(station, "u2f_only")


def test_fido20_key_when_policy_requires_a_forced_pin_change(make_station: Any) -> None:
    station = make_station(pin_change="require")
    users(station)
    station.keys.insert(VirtualKey("fido20"))
    event = rejected(station, "feature_missing")
    assert "FIDO 2.0" in event.message and 'pin_change = "require"' in event.remedy


def test_key_full(make_station: Any) -> None:
    station = make_station()
    users(station)
    station.keys.insert(VirtualKey("fido21", capacity=0))
    rejected(station, "key_full")


# -- failures after the claim -----------------------------------------------------------------------
def test_touch_timeout_needs_reset_and_returns_the_person(make_station: Any) -> None:
    station = make_station(touch_timeout_seconds=0.5)
    (user,) = users(station)
    key = VirtualKey("fido21", finger=Finger.never())
    station.keys.insert(key)
    event = failed(station, "touch_timeout")
    row = station.store.journal.get(event.enrolment_id)
    assert row is not None and row.state == "needs_reset" and row.error_reason == "touch_timeout"
    assert person_state(station, user) == "queued"
    pin = open_sealed(station.private_key(), row.pin_escrow, context_for(row.id))
    device = open_virtual_device(key)
    try:
        assert ClientPin(Ctap2(device)).get_pin_token(pin), "the escrowed PIN is not the key's PIN"
    finally:
        device.close()


def test_key_removed_mid_touch_ends_within_a_second(make_station: Any) -> None:
    station = make_station()
    (user,) = users(station)
    station.keys.insert(VirtualKey("fido21", finger=Finger.manual()), slot="Hub 1")
    station.events.wait_for(TouchRequired)
    pulled = time.time()
    station.keys.remove("Hub 1")
    event = failed(station, "key_removed")
    assert event.at - pulled < 1.0
    assert wait_idle(station.engine, 1.0)
    row = station.store.journal.get(event.enrolment_id)
    assert row is not None and row.state == "needs_reset"
    assert person_state(station, user) == "queued"


@pytest.mark.parametrize("profile", ["fido21", "yubikey5-5.4"])  # credMgmt, and FIDO_2_1_PRE's preview command
def test_graph_throttling_deletes_the_orphan_and_returns_the_person(make_station: Any, profile: str) -> None:
    station = make_station()
    (user,) = users(station)
    station.emu.faults.inject(429, count=50, path=r"fido2Methods$", method="POST", retry_after=0)
    key = VirtualKey(profile)
    station.keys.insert(key)
    event = failed(station, "graph_throttled")
    assert event.retryable
    assert key.state.residents == [], "the orphan credential was not deleted from the key"
    assert station.emu.tenant.methods_of(user["id"]) == []
    assert person_state(station, user) == "queued"


def test_graph_denied_marks_the_person_failed(make_station: Any) -> None:
    station = make_station()
    (user,) = users(station)
    station.emu.faults.inject(403, count=1, path=r"fido2Methods$", method="POST")
    station.keys.insert(VirtualKey("fido21"))
    failed(station, "graph_denied")
    assert person_state(station, user) == "failed"


def test_tenant_key_restrictions_are_explained(make_station: Any, emu: EntraEmulator) -> None:
    station = make_station()
    (user,) = users(station)
    with emu.tenant.lock:
        saved = dict(emu.tenant.policy["keyRestrictions"])
        emu.tenant.policy["keyRestrictions"] = {"isEnforced": True, "enforcementType": "block", "aaGuids": [V21]}
    try:
        key = VirtualKey("fido21")
        station.keys.insert(key)
        failed(station, "aaguid_not_allowed")
    finally:
        with emu.tenant.lock:
            emu.tenant.policy["keyRestrictions"] = saved
    assert key.state.residents == []
    assert person_state(station, user) == "queued"


def test_key_already_registered_to_this_user(make_station: Any, emu: EntraEmulator) -> None:
    station = make_station()
    (user,) = users(station)
    key = VirtualKey("fido21")
    old = key.credentials.create(hashlib.sha256(b"login.microsoft.com").digest(), -7, 1)
    emu.tenant.add_method(Fido2Method(id=url_token_encode(old.id), user_id=user["id"], credential_id=old.id,
                                      display_name="Old key", created=time.time(), aaguid=V21, model=None,
                                      attestation_level="attested", attestation_certificates=[]))
    station.keys.insert(key)
    failed(station, "already_registered")
    assert len(emu.tenant.methods_of(user["id"])) == 1
    assert person_state(station, user) == "queued"


def test_user_no_longer_in_entra(make_station: Any, emu: EntraEmulator) -> None:
    station = make_station()
    (user,) = users(station)
    emu.tenant.remove_user(user["id"])
    key = VirtualKey("fido21")
    station.keys.insert(key)
    failed(station, "user_not_found")
    assert person_state(station, user) == "failed"
    assert not key.state.pin_set


# -- matching, prefetching, uncertain outcomes, intake ------------------------------------------
def test_a_pre_assigned_key_goes_to_its_person(make_station: Any) -> None:
    station = make_station()
    people = users(station, 3)
    key = VirtualKey("fido21")
    assign_key(station.store.queue, people[2]["userPrincipalName"], key.serial)
    station.keys.insert(key)
    assert station.events.wait_for(EnrolmentDone).upn == people[2]["userPrincipalName"]
    assert person_state(station, people[0]) == "queued"


def test_prefetched_options_leave_only_the_registration_after_the_touch(make_station: Any) -> None:
    station = make_station(prefetch=4)
    people = users(station, 3)
    station.wait(lambda: station.engine.snapshot()["prefetched"] == 3)
    for i in range(3):
        station.keys.insert(VirtualKey("fido21", finger=Finger.after(0.05)), slot="Hub 1")
        station.wait(lambda i=i: len(station.events.of(EnrolmentDone)) == i + 1)
        station.keys.remove("Hub 1")
    log = list(station.emu.request_log)
    for touch in station.events.of(TouchRequired):
        after = [r for r in log if r.time > touch.at]
        post = next(r for r in after if r.method == "POST" and r.path.endswith("fido2Methods"))
        between = [r for r in after if r.time < post.time and "creationOptions" in r.path]
        assert between == []
    gets = [r for r in log if "creationOptions" in r.path and any(p["id"] in r.path for p in people)]
    assert len(gets) == 3
    claims = {e.upn: e.at for e in station.events.of(PersonClaimed)}
    for p in people:
        fetched = [r.time for r in gets if p["id"] in r.path]
        assert fetched and fetched[0] < claims[p["userPrincipalName"].lower()]


def test_options_for_the_next_wave_are_kept_while_its_keys_are_swapped(make_station: Any) -> None:
    station = make_station(prefetch=1)
    people = users(station, 3) + users(station, 3)

    def wave(done: int) -> None:
        for slot in ("Hub 1", "Hub 2"):
            station.keys.insert(VirtualKey("fido21", finger=Finger.after(0.05)), slot=slot)
        station.wait(lambda: len(station.events.of(EnrolmentDone)) == done)
        for slot in ("Hub 1", "Hub 2"):
            station.keys.remove(slot)

    wave(2)
    station.wait(lambda: station.engine.snapshot()["prefetched"] == 3)  # one person, plus one per key in
    refresh, refreshed = station.engine.prefetch.refresh, threading.Event()

    def watched(*args: Any, **kwargs: Any) -> int:
        fetched = refresh(*args, **kwargs)
        refreshed.set()
        return fetched

    station.engine.prefetch.refresh = watched  # type: ignore[method-assign]
    station.engine.prefetch.demand.set()
    assert refreshed.wait(10)
    assert station.engine.snapshot()["prefetched"] == 3  # both slots are empty, but not for long
    wave(4)
    claims = {e.upn: e.at for e in station.events.of(PersonClaimed)}
    for n, p in enumerate(people[:4]):
        gets = [r.time for r in station.emu.request_log if "creationOptions" in r.path and p["id"] in r.path]
        assert len(gets) == 1
        if n >= 2:  # the second wave found its people's options ready
            assert gets[0] < claims[p["userPrincipalName"].lower()]


def test_lost_registration_answer_is_resolved_by_listing_not_reposting(make_station: Any) -> None:
    station = make_station()
    (user,) = users(station)
    station.emu.faults.lose_next_response(path=r"fido2Methods$", method="POST")
    station.keys.insert(VirtualKey("fido21"))
    station.events.wait_for(EnrolmentDone)
    assert len(station.emu.tenant.methods_of(user["id"])) == 1
    posts = [r for r in station.emu.request_log if r.method == "POST" and user["id"] in r.path]
    assert len(posts) == 1


def test_paused_intake_holds_keys_until_resumed(make_station: Any) -> None:
    station = make_station()
    users(station)
    station.engine.pause_intake()
    station.keys.insert(VirtualKey("fido21"))
    time.sleep(0.3)
    assert station.events.of(PersonClaimed) == []
    assert station.engine.snapshot()["held"]
    station.engine.resume_intake()
    station.events.wait_for(EnrolmentDone)


def test_operator_cancels_a_slot(make_station: Any) -> None:
    station = make_station()
    (user,) = users(station)
    station.keys.insert(VirtualKey("fido21", finger=Finger.manual()), slot="Hub 2")
    station.events.wait_for(TouchRequired)
    assert station.engine.cancel_slot("Hub 2")
    event = failed(station, "operator_cancelled")
    assert "cancelled by the operator" in event.message and event.retryable
    assert "cancelled" in event.remedy and "removed" not in event.remedy
    assert person_state(station, user) == "queued"
    row = station.store.journal.get(event.enrolment_id)
    assert row is not None and row.error_reason == "operator_cancelled"


def test_a_key_whose_own_pin_policy_refuses_the_pin_is_left_unchanged(make_station: Any) -> None:
    station = make_station(pin_alphabet="abcdefghjkmnpqrstuvwxyz")
    (user,) = users(station)
    key = VirtualKey("token2-pinplus")  # digits only
    station.keys.insert(key)
    event = failed(station, "pin_policy_refused")
    assert "pin_alphabet" in event.remedy and not event.retryable
    assert not key.state.pin_set
    assert person_state(station, user) == "queued"
