"""Hostile devices: a key whose answers are corrupted — CTAPHID frames, CBOR, APDU responses — is driven
through the engine's session while a good key enrols at the same time.

For every corruption hypothesis finds: the hostile key's session ends in a terminal state with a reason
(never an unexplained internal error), the good key is enrolled, the invariants of the fault matrix still
hold, and memory stays bounded.
"""

from __future__ import annotations

import itertools
import tracemalloc
from collections.abc import Callable, Iterator

import pytest
from fido2 import cbor
from hostile import Corruption, hid_candidate, nfc_candidate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from invariants import check
from rig import Station, in_process_station, station_config
from support.waiting import wait_idle

from station.enroll.escrow import load_private_key
from station.events import EnrolmentDone, EnrolmentFailed, KeyRejected
from station.hid.candidate import KeyCandidate
from station.store import NewPerson
from station_emulator.entra import EntraEmulator
from station_emulator.key import VirtualKey

EXAMPLES = 25
CandidateFor = Callable[[VirtualKey, Corruption, str], KeyCandidate]
MEMORY_BOUND = 48 * 1024 * 1024
_slots = itertools.count(1)

GET_INFO_ANSWER = cbor.encode({1: ["FIDO_2_0", "FIDO_2_1"], 3: b"\0" * 16, 4: {"clientPin": False, "rk": True}})
NON_CANONICAL = [
    b"\xa2\x03\x50" + b"\0" * 16 + b"\x01\x81\x68FIDO_2_0",  # map keys out of order
    b"\xa1\x18\x01\x81\x68FIDO_2_0",  # an integer key in a longer form than needed
    b"\xbf\x01\x9f\x68FIDO_2_0\xff\xff",  # indefinite lengths
    b"\xa1\x01\x81\x7f\x64FIDO\x64_2_0\xff",  # a chunked text string
    b"\xa2\x01\x80\x01\x80",  # the same key twice
]
HUGE = [
    b"\xa1\x01\x9b\xff\xff\xff\xff\xff\xff\xff\xff",  # an array of 2**64-1 items
    b"\xa1\x03\x5a\xff\xff\xff\xff",  # a byte string of 4 GiB
    b"\xbb\x00\x00\x00\x01\x00\x00\x00\x00",  # a map of 2**32 pairs
    b"\x81" * 5000 + b"\x00",  # nesting 5,000 deep
]
cbor_values = st.recursive(
    st.booleans() | st.integers(-(2**64), 2**64 - 1) | st.binary(max_size=40) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.integers(0, 20) | st.text(max_size=8), inner,
                                                                  max_size=5),
    max_leaves=20,
)
bad_cbor = st.one_of(
    st.binary(max_size=300),
    cbor_values.map(cbor.encode),
    st.sampled_from(NON_CANONICAL),
    st.sampled_from(HUGE),
    st.integers(0, len(GET_INFO_ANSWER) - 1).map(lambda n: GET_INFO_ANSWER[:n]),
)
hid_corruptions = st.one_of(
    st.builds(Corruption, at=st.integers(0, 9),
              kind=st.sampled_from(["channel", "command", "declared_length", "truncated"]),
              number=st.integers(0, 0xFFFF)),
    st.builds(Corruption, at=st.integers(0, 9), kind=st.just("garbage"),
              data=st.binary(min_size=1, max_size=200)),
    st.builds(Corruption, at=st.integers(1, 9), kind=st.just("cbor"), data=bad_cbor),
)
apdu_corruptions = st.one_of(
    st.builds(Corruption, at=st.integers(0, 12), kind=st.sampled_from(["status_word", "short_data", "more_data"]),
              number=st.integers(0, 0xFFFF)),
    st.builds(Corruption, at=st.integers(0, 12), kind=st.just("long_data"), data=st.binary(min_size=1, max_size=600)),
    st.builds(Corruption, at=st.integers(1, 12), kind=st.just("cbor"), data=bad_cbor),
)
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module")
def station(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Station]:
    with EntraEmulator(users=3 * EXAMPLES + 10, seed=4242) as emu:
        tmp = tmp_path_factory.mktemp("hostile")
        cfg = station_config(emu, tmp, touch_timeout_seconds=3.0)
        s = in_process_station(emu, tmp, cfg)
        users = sorted(emu.tenant.users.values(), key=lambda u: u["userPrincipalName"])
        s.store.queue.add_people(NewPerson(upn=u["userPrincipalName"], display_name=u["displayName"],
                                           object_id=u["id"], source="test") for u in users)
        s.extra["keys"] = []
        try:
            yield s
        finally:
            s.close()


def enrol_beside_a_good_key(station: Station, candidate_for: CandidateFor, corruption: Corruption) -> None:
    n = next(_slots)
    hostile, good = VirtualKey("fido21"), VirtualKey("fido21")
    station.extra["keys"] += [hostile, good]
    slot = f"Hostile {n}"
    station.engine.key_attached(candidate_for(hostile, corruption, slot))
    good_slot = station.keys.insert(good).slot
    try:
        assert wait_idle(station.engine, 30), f"a session hangs after {corruption}"
    finally:
        station.keys.remove(good_slot)
        station.engine.key_removed(f"virtual-{hostile.serial}")
        station.bus.flush()
    assert station.events.of(EnrolmentDone, slot=good_slot), f"the good key was not enrolled beside {corruption}"
    ended = (station.events.of(EnrolmentDone, slot=slot) + station.events.of(EnrolmentFailed, slot=slot)
             + station.events.of(KeyRejected, slot=slot))
    assert ended, f"the hostile key's session ended silently: {corruption}"
    for event in ended:
        reason = getattr(event, "reason", "")
        if not isinstance(event, EnrolmentDone):
            assert reason and reason != "internal", f"{corruption} → {event}"
            assert event.remedy, f"{corruption} → {event} has no remedy"


def assert_invariants(station: Station) -> None:
    verdict = check(station.store, station.emu, station.extra["keys"], load_private_key(station.private_key_pem),
                    station.config.enrolment.lease_seconds)
    assert verdict.ok, verdict.violations


def test_corrupted_ctaphid_and_cbor_answers(station: Station) -> None:
    tracemalloc.start()
    try:
        run_fuzz(station, hid_candidate, hid_corruptions)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_BOUND, f"peak traced memory {peak / 2**20:.1f} MiB"
    assert_invariants(station)


def test_corrupted_apdu_answers(station: Station) -> None:
    tracemalloc.start()
    try:
        run_fuzz(station, nfc_candidate, apdu_corruptions)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_BOUND, f"peak traced memory {peak / 2**20:.1f} MiB"
    assert_invariants(station)


def run_fuzz(station: Station, candidate_for: CandidateFor, corruptions: st.SearchStrategy[Corruption]) -> None:
    @FUZZ
    @given(corruption=corruptions)
    def one(corruption: Corruption) -> None:
        enrol_beside_a_good_key(station, candidate_for, corruption)

    one()

