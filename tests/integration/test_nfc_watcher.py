"""NfcWatcher on the real PC/SC stack: a test-owned pcscd, vpcd readers, virtual keys and an access badge.

What a technician relies on: a key laid on a reader shows up, lifting it is noticed within a second,
a badge is not mistaken for a key, and a pcscd restart heals by itself without flooding the log.
"""

from __future__ import annotations

import logging
import socket
import struct
import threading
import time
from typing import TYPE_CHECKING

import pytest
from fido2.ctap2 import Ctap2
from smartcard.Exceptions import CardConnectionException
from smartcard.pcsc.PCSCReader import PCSCReader

from station.hid.candidate import KeyCandidate
from station.hid.nfc import NfcWatcher
from station_emulator.key import VirtualKey
from station_emulator.key.vpcd import VpcdCard

if TYPE_CHECKING:
    from collections.abc import Iterator

    from realstack import Pcscd

pytest_plugins = ["realstack"]
pytestmark = pytest.mark.realstack


class Seen:
    """What the watcher reported, with the time of each report."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.attached: list[tuple[KeyCandidate, float]] = []
        self.removed: list[tuple[str, float]] = []

    def on_attached(self, candidate: KeyCandidate) -> None:
        with self._cond:
            self.attached.append((candidate, time.monotonic()))
            self._cond.notify_all()

    def on_removed(self, fingerprint: str) -> None:
        with self._cond:
            self.removed.append((fingerprint, time.monotonic()))
            self._cond.notify_all()

    def attach(self, count: int, timeout: float = 5.0) -> KeyCandidate:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.attached) >= count, timeout), "no key attached"
            return self.attached[count - 1][0]

    def removal(self, count: int, timeout: float = 5.0) -> tuple[str, float]:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.removed) >= count, timeout), "no key removed"
            return self.removed[count - 1]


class AccessBadge:
    """A contactless card without a FIDO applet (a DESFire-like badge), speaking vpcd's protocol itself.

    With ``atr`` and ``select_sw`` it plays other cards, e.g. the contact smart-card interface of a USB key.
    """

    def __init__(self, port: int, *, atr: str = "3B8180018080", select_sw: bytes = b"\x6a\x82") -> None:
        self.ATR = bytes.fromhex(atr)
        self._select_sw = select_sw
        self._sock = socket.create_connection(("127.0.0.1", port))
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            while header := self._sock.recv(2, socket.MSG_WAITALL):
                message = self._sock.recv(struct.unpack(">H", header)[0], socket.MSG_WAITALL)
                if len(message) == 1:
                    answer = self.ATR if message[0] == 4 else None
                elif message[:2] == b"\xff\xca":
                    answer = bytes.fromhex("04112233445566") + b"\x90\x00"
                else:
                    answer = self._select_sw
                if answer is not None:
                    self._sock.sendall(struct.pack(">H", len(answer)) + answer)
        except OSError:
            pass

    def remove(self) -> None:
        self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        self._thread.join(2.0)


@pytest.fixture
def seen_by_watcher(running_pcscd: Pcscd) -> Iterator[tuple[NfcWatcher, Seen]]:
    watcher = NfcWatcher(backoff_start=0.25, backoff_cap=1.0)
    seen = Seen()
    watcher.start(seen.on_attached, seen.on_removed)
    try:
        yield watcher, seen
    finally:
        watcher.stop()


def wait_status(watcher: NfcWatcher, prefix: str, timeout: float = 5.0) -> str:
    deadline = time.monotonic() + timeout
    while not watcher.status().startswith(prefix):
        assert time.monotonic() < deadline, f"status stayed {watcher.status()!r}, expected {prefix!r}…"
        time.sleep(0.05)
    return watcher.status()


def test_key_attached_opened_exclusively_and_removed_within_a_second(
    running_pcscd: Pcscd, seen_by_watcher: tuple[NfcWatcher, Seen]
) -> None:
    watcher, seen = seen_by_watcher
    wait_status(watcher, "NFC: 2 readers")
    key = VirtualKey("fido21")
    card = VpcdCard(key, port=running_pcscd.vpcd_port())
    card.insert()
    try:
        candidate = seen.attach(1)
        assert candidate.transport == "nfc"
        assert candidate.slot == f"NFC {running_pcscd.reader()}"
        assert card.uid.hex() in candidate.fingerprint
        assert wait_status(watcher, "NFC: 2 readers, 1 key")

        device = candidate.open()
        try:
            assert Ctap2(device).info.aaguid == key.aaguid.bytes
            other = PCSCReader(running_pcscd.reader()).createConnection()
            with pytest.raises(CardConnectionException):
                other.connect()
            other.release()
        finally:
            device.close(release=True)
    finally:
        lifted = time.monotonic()
        card.remove()
    fingerprint, reported = seen.removal(1)
    assert fingerprint == candidate.fingerprint
    assert reported - lifted < 1.0

    card.insert()
    try:
        assert seen.attach(2).fingerprint == candidate.fingerprint, "the same key keeps its fingerprint"
    finally:
        card.remove()
    seen.removal(2)


def test_key_already_on_the_reader_is_picked_up_at_start(running_pcscd: Pcscd) -> None:
    card = VpcdCard(VirtualKey("fido20"), port=running_pcscd.vpcd_port(1))
    card.insert()
    running_pcscd.wait_for_card(1)
    watcher, seen = NfcWatcher(), Seen()
    watcher.start(seen.on_attached, seen.on_removed)
    try:
        assert seen.attach(1).slot == f"NFC {running_pcscd.reader(1)}"
    finally:
        watcher.stop()
        card.remove()
        running_pcscd.wait_for_card(1, present=False)


def test_access_badge_is_ignored_with_one_note(
    running_pcscd: Pcscd, seen_by_watcher: tuple[NfcWatcher, Seen], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="station.hid.nfc")
    watcher, seen = seen_by_watcher
    wait_status(watcher, "NFC: 2 readers")
    badge = AccessBadge(running_pcscd.vpcd_port(1))
    try:
        running_pcscd.wait_for_card(1)
        card = VpcdCard(VirtualKey("fido21"), port=running_pcscd.vpcd_port())
        card.insert()
        try:
            assert seen.attach(1).slot == f"NFC {running_pcscd.reader()}", "the badge's reader keeps working"
            time.sleep(1.0)
            assert len(seen.attached) == 1
        finally:
            card.remove()
        notes = [r for r in caplog.records if "not a FIDO security key" in r.getMessage()]
        assert len(notes) == 1 and running_pcscd.reader(1) in notes[0].getMessage()
    finally:
        badge.remove()
        running_pcscd.wait_for_card(1, present=False)


def test_pcscd_stopped_readers_gone_then_restarted_watcher_recovers(
    running_pcscd: Pcscd, seen_by_watcher: tuple[NfcWatcher, Seen], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="station.hid.nfc")
    watcher, seen = seen_by_watcher
    card = VpcdCard(VirtualKey("fido21"), port=running_pcscd.vpcd_port())
    card.insert()
    try:
        first = seen.attach(1)
        stopped = time.monotonic()
        running_pcscd.stop()
        fingerprint, reported = seen.removal(1)
        assert fingerprint == first.fingerprint and reported - stopped < 1.0, "readers gone: key removed"
        assert "retrying in" in wait_status(watcher, "NFC: pcscd not running")
        time.sleep(1.5)
        warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(warnings) == 1, f"one warning per outage, got {[r.getMessage() for r in warnings]}"

        running_pcscd.start()
        assert card.removed.is_set(), "pcscd going away closed the card's link"
        card.insert()
        assert seen.attach(2, timeout=6.0).fingerprint == first.fingerprint
        assert wait_status(watcher, "NFC: 2 readers, 1 key")
        assert any("reachable again" in r.getMessage() for r in caplog.records)
    finally:
        card.remove()
        if running_pcscd.running:
            running_pcscd.wait_for_card(present=False)


def test_smart_card_interface_of_a_usb_key_is_left_to_the_usb_watcher(
    running_pcscd: Pcscd, seen_by_watcher: tuple[NfcWatcher, Seen], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="station.hid.nfc")
    watcher, seen = seen_by_watcher
    wait_status(watcher, "NFC: 2 readers")
    usb_key_ccid = AccessBadge(running_pcscd.vpcd_port(), atr="3BFD1300008131FE158073C021C057597562694B657940",
                               select_sw=b"\x90\x00")
    try:
        running_pcscd.wait_for_card()
        time.sleep(0.5)
        assert not seen.attached, "a key answering over its contact interface is not enrolled twice"
        assert any("not a contactless card" in r.getMessage() for r in caplog.records)
    finally:
        usb_key_ccid.remove()
        running_pcscd.wait_for_card(present=False)
