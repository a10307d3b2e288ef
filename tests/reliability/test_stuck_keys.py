"""Keys that never finish: endless "processing" keepalives, 9100 answers or 61xx chains do not hold a slot.

A virtual key behind ``hostile.py``'s transports gets stuck on one CTAP command while a good key enrols
beside it. The engine's per-session deadline (touch timeout + a margin, shortened here) cancels a key
that makes no progress, and the session ends as key_error with the remedy "the key stopped answering";
the NFC device wrapper ends a key that ignores the cancel, or answers one command without end, before
memory grows. The invariants of the fault matrix hold afterwards (a PIN set before the key got stuck is
escrowed, the person is back in the queue).
"""

from __future__ import annotations

import itertools
import time
import tracemalloc
from collections.abc import Callable, Iterator

import pytest
from fido2.ctap2 import Ctap2
from hostile import Corruption, hid_candidate, nfc_candidate
from invariants import check
from rig import Station, in_process_station, station_config
from support.waiting import wait_idle

from station.enroll.escrow import load_private_key
from station.enroll.transitions import STALLED_REMEDY
from station.events import EnrolmentDone, EnrolmentFailed, KeyRejected
from station.hid.candidate import KeyCandidate
from station.hid.nfc import CANCEL_GRACE_SECONDS, MAX_ANSWER_BYTES
from station.store import NewPerson
from station_emulator.entra import EntraEmulator
from station_emulator.key import VirtualKey

TOUCH_TIMEOUT = 1.0
STALL_MARGIN = 1.0
MAKE_CREDENTIAL = Ctap2.CMD.MAKE_CREDENTIAL
GET_INFO = Ctap2.CMD.GET_INFO
CandidateFor = Callable[[VirtualKey, Corruption, str], KeyCandidate]
_slots = itertools.count(1)


@pytest.fixture(scope="module")
def station(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Station]:
    with EntraEmulator(users=12, seed=5151) as emu:
        tmp = tmp_path_factory.mktemp("stuck")
        cfg = station_config(emu, tmp, touch_timeout_seconds=TOUCH_TIMEOUT)
        s = in_process_station(emu, tmp, cfg)
        s.engine.ctx.stall_margin = STALL_MARGIN
        users = sorted(emu.tenant.users.values(), key=lambda u: u["userPrincipalName"])
        s.store.queue.add_people(NewPerson(upn=u["userPrincipalName"], display_name=u["displayName"],
                                           object_id=u["id"], source="test") for u in users)
        s.extra["keys"] = []
        try:
            yield s
        finally:
            s.close()


def stuck_beside_a_good_key(station: Station, candidate_for: CandidateFor,
                            corruption: Corruption) -> tuple[EnrolmentFailed | KeyRejected, float]:
    """The stuck key's ending event and how long its session lasted; the good key must enrol meanwhile."""
    hostile, good = VirtualKey("fido21"), VirtualKey("fido21")
    station.extra["keys"] += [hostile, good]
    slot = f"Stuck {next(_slots)}"
    started = time.monotonic()
    station.engine.key_attached(candidate_for(hostile, corruption, slot))
    good_slot = station.keys.insert(good).slot
    try:
        assert wait_idle(station.engine, 30), f"a session still runs 30 s after {corruption}"
        lasted = time.monotonic() - started
    finally:
        station.keys.remove(good_slot)
        station.engine.key_removed(f"virtual-{hostile.serial}")
        station.bus.flush()
    assert station.events.of(EnrolmentDone, slot=good_slot), "the good key was not enrolled beside the stuck one"
    ended = station.events.of(EnrolmentFailed, slot=slot) + station.events.of(KeyRejected, slot=slot)
    assert len(ended) == 1, f"the stuck key's session ended with {ended}"
    return ended[0], lasted


def assert_invariants(station: Station) -> None:
    verdict = check(station.store, station.emu, station.extra["keys"], load_private_key(station.private_key_pem),
                    station.config.enrolment.lease_seconds)
    assert verdict.ok, verdict.violations


@pytest.mark.parametrize("candidate_for", [hid_candidate, nfc_candidate], ids=["usb", "nfc"])
def test_a_key_processing_forever_is_cancelled_at_the_deadline(station: Station,
                                                               candidate_for: CandidateFor) -> None:
    ended, lasted = stuck_beside_a_good_key(station, candidate_for,
                                            Corruption(at=0, kind="stuck", number=MAKE_CREDENTIAL))
    assert isinstance(ended, EnrolmentFailed), ended
    assert ended.reason == "key_error" and "stopped answering" in ended.message, ended
    assert ended.remedy == STALLED_REMEDY and ended.retryable
    assert TOUCH_TIMEOUT + STALL_MARGIN <= lasted < TOUCH_TIMEOUT + STALL_MARGIN + 8, f"{lasted:.1f} s"
    assert_invariants(station)


def test_an_nfc_key_deaf_to_the_cancel_is_given_up(station: Station) -> None:
    ended, lasted = stuck_beside_a_good_key(station, nfc_candidate,
                                            Corruption(at=0, kind="stuck_deaf", number=MAKE_CREDENTIAL))
    assert isinstance(ended, EnrolmentFailed), ended
    assert ended.reason == "key_error" and "stopped answering" in ended.message, ended
    # The deadline cancels it; the device wrapper gives up on a key still processing after the grace.
    assert lasted >= TOUCH_TIMEOUT + STALL_MARGIN + CANCEL_GRACE_SECONDS, f"{lasted:.1f} s"
    assert lasted < TOUCH_TIMEOUT + STALL_MARGIN + CANCEL_GRACE_SECONDS + 8, f"{lasted:.1f} s"
    assert_invariants(station)


def test_an_endless_61xx_chain_is_cut_off_with_bounded_memory(station: Station) -> None:
    tracemalloc.start()
    try:
        ended, lasted = stuck_beside_a_good_key(station, nfc_candidate,
                                                Corruption(at=0, kind="endless_chain", number=GET_INFO))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert isinstance(ended, KeyRejected), "nobody is claimed for a key whose getInfo never ends"
    assert ended.reason == "key_error" and f"more than {MAX_ANSWER_BYTES // 1024} KiB" in ended.message, ended
    assert ended.remedy
    assert peak < 16 * 2**20, f"peak traced memory {peak / 2**20:.1f} MiB"
    assert lasted < 10
    assert_invariants(station)
