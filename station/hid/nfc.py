"""NFC key discovery through PC/SC: readers coming and going, cards entering and leaving each reader.

One thread watches pcscd with SCardGetStatusChange: it blocks until pcscd reports a change (a removal is
reported as soon as pcscd sees it, and an idle station makes no calls at all), with the PnP pseudo-reader
so USB readers plugged in later are seen; ``stop`` wakes it with SCardCancel. Only while a card's probe
is to be retried does it wait with a short timeout. A contactless card is probed once per insertion: its
UID (GET DATA FF CA 00 00) makes the fingerprint, and SELECT of the FIDO applet decides whether it is a
security key; any other card (an access badge) is noted once and ignored. A key becomes a KeyCandidate
whose ``open()`` connects exclusively and returns python-fido2's ``CtapPcscDevice``. When pcscd is not
running, or goes away, the status says so and the watcher reconnects with exponential backoff, logging
once per outage.
"""

from __future__ import annotations

import contextlib
import logging
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from smartcard import scard
from smartcard.pcsc.PCSCReader import PCSCReader

from station.hid.candidate import KeyCandidate

if TYPE_CHECKING:
    from fido2.ctap import CtapDevice

log = logging.getLogger(__name__)

T = TypeVar("T")

PNP_READER = "\\\\?PnP?\\Notification"
POLL_TIMEOUT_MS = 250
CANCEL_RETRY_SECONDS = 0.1
BACKOFF_START = 1.0
BACKOFF_CAP = 30.0
PROBE_ATTEMPTS = 3
REMOVAL_SETTLE = 1.5
# One command's answer, all its "61xx: more data" parts together (CTAP messages are far smaller).
MAX_ANSWER_BYTES = 64 * 1024
MAX_ANSWER_ROUNDS = 512
# How long a key may go on answering "still processing" after it was cancelled.
CANCEL_GRACE_SECONDS = 2.0

_GET_UID = bytes.fromhex("FFCA000000")
_INS_GET_RESPONSE = 0xC0
_CANCEL_POLL = bytes.fromhex("80111100")
_SW_PROCESSING = (0x91, 0x00)
AID_FIDO = bytes.fromhex("A0000006472F0001")  # the FIDO applet (CTAP 2.1 §11.3.3), as python-fido2's pcsc
_SELECT_FIDO = b"\x00\xa4\x04\x00" + bytes([len(AID_FIDO)]) + AID_FIDO + b"\x00"
_SERVICE_GONE = {
    scard.SCARD_E_NO_SERVICE,
    scard.SCARD_E_SERVICE_STOPPED,
    scard.SCARD_E_INVALID_HANDLE,
    scard.SCARD_F_COMM_ERROR,
}


class PcscUnavailableError(Exception):
    """pcscd cannot be reached (not running, stopped or restarted)."""


def is_contactless_atr(atr: bytes) -> bool:
    """PC/SC part 3 ATR of a contactless card (3B 8n 80 01 …), as NFC readers build it.

    A USB security key's own smart-card interface has a contact ATR; it is left to the USB watcher so
    one key is never enrolled twice.
    """
    return len(atr) >= 4 and atr[0] == 0x3B and atr[1] & 0xF0 == 0x80 and atr[2:4] == b"\x80\x01"


@dataclass
class _Slot:
    """What the watcher knows about one reader."""

    state: int = scard.SCARD_STATE_UNAWARE
    atr: bytes = b""
    fingerprint: str | None = None
    ignored: bool = False
    attempts: int = 0


class NfcWatcher:
    """A KeyWatcher over PC/SC. ``reader_filter`` limits it to readers whose name it accepts."""

    def __init__(
        self,
        *,
        reader_filter: Callable[[str], bool] | None = None,
        backoff_start: float = BACKOFF_START,
        backoff_cap: float = BACKOFF_CAP,
    ) -> None:
        self._reader_filter = reader_filter or (lambda _name: True)
        self._backoff_start = backoff_start
        self._backoff_cap = backoff_cap
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._context_lock = threading.Lock()
        self._context: int | None = None
        self._slots: dict[str, _Slot] = {}
        self._status = "NFC: not started"
        self._on_attached: Callable[[KeyCandidate], None] = _nothing
        self._on_removed: Callable[[str], None] = _nothing

    def start(
        self,
        on_attached: Callable[[KeyCandidate], None],
        on_removed: Callable[[str], None],
    ) -> None:
        if self._thread is not None:
            raise RuntimeError("NfcWatcher already started")
        self._on_attached, self._on_removed = on_attached, on_removed
        self._stop.clear()
        self._status = "NFC: connecting to pcscd"
        self._thread = threading.Thread(target=self._run, name="nfc-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            deadline = time.monotonic() + 5.0
            # SCardCancel only ends a wait already under way: repeat it until the thread has seen the stop.
            while self._thread.is_alive() and time.monotonic() < deadline:
                self._cancel_wait()
                self._thread.join(CANCEL_RETRY_SECONDS)
            self._thread = None
        self._status = "NFC: stopped"

    def status(self) -> str:
        return self._status

    def _cancel_wait(self) -> None:
        with self._context_lock:
            if self._context is not None:
                scard.SCardCancel(self._context)

    def _run(self) -> None:
        delay = self._backoff_start
        outage_logged = False
        while not self._stop.is_set():
            try:
                context = _establish()
            except PcscUnavailableError as e:
                self._forget_all()
                self._status = f"NFC: pcscd not running — retrying in {delay:g} s"
                if not outage_logged:
                    log.warning("NFC: cannot reach pcscd (%s); retrying with backoff up to %g s",
                                e, self._backoff_cap)
                    outage_logged = True
                self._stop.wait(delay)
                delay = min(delay * 2, self._backoff_cap)
                continue
            if outage_logged:
                log.info("NFC: pcscd is reachable again")
                outage_logged = False
            delay = self._backoff_start
            with self._context_lock:
                self._context = context
            try:
                self._watch(context)
            except PcscUnavailableError as e:
                log.warning("NFC: lost pcscd (%s); keys in NFC readers count as removed", e)
                outage_logged = True
                self._forget_all()
                self._status = f"NFC: pcscd not running — retrying in {delay:g} s"
                self._stop.wait(delay)
            finally:
                with self._context_lock:
                    self._context = None
                    scard.SCardReleaseContext(context)
        self._forget_all()

    def _watch(self, context: int) -> None:
        pnp_state = scard.SCARD_STATE_UNAWARE
        self._sync_readers(context)
        while not self._stop.is_set():
            watched = [(PNP_READER, pnp_state)] + [(name, s.state) for name, s in self._slots.items()]
            rv, changes = scard.SCardGetStatusChange(context, self._wait_ms(), watched)
            if rv in _SERVICE_GONE:
                raise PcscUnavailableError(scard.SCardGetErrorMessage(rv))
            if rv == scard.SCARD_S_SUCCESS:
                for name, event_state, atr in changes:
                    if name == PNP_READER:
                        if event_state & scard.SCARD_STATE_CHANGED:
                            pnp_state = event_state & ~scard.SCARD_STATE_CHANGED
                            self._sync_readers(context)
                    elif name in self._slots and event_state & scard.SCARD_STATE_CHANGED:
                        self._reader_changed(name, event_state & ~scard.SCARD_STATE_CHANGED, bytes(atr))
            elif rv == scard.SCARD_E_UNKNOWN_READER:
                self._sync_readers(context)
            elif rv not in (scard.SCARD_E_TIMEOUT, scard.SCARD_E_CANCELLED):
                log.debug("NFC: SCardGetStatusChange: %s", scard.SCardGetErrorMessage(rv))
                self._stop.wait(POLL_TIMEOUT_MS / 1000)
            self._retry_probes()
            self._update_status()

    def _sync_readers(self, context: int) -> None:
        rv, names = scard.SCardListReaders(context, [])
        if rv in _SERVICE_GONE:
            raise PcscUnavailableError(scard.SCardGetErrorMessage(rv))
        current = {n for n in (names if rv == scard.SCARD_S_SUCCESS else []) if self._reader_filter(n)}
        for gone in set(self._slots) - current:
            log.info("NFC: reader %r is gone", gone)
            self._card_left(gone)
            del self._slots[gone]
        for new in current - set(self._slots):
            log.info("NFC: reader %r is available", new)
            self._slots[new] = _Slot()
        self._update_status()

    def _reader_changed(self, reader: str, state: int, atr: bytes) -> None:
        slot = self._slots[reader]
        # pcscd counts card insertions and removals in the high word: a changed count with a card
        # present means the card was swapped between two polls.
        swapped = slot.state != scard.SCARD_STATE_UNAWARE and (state >> 16) != (slot.state >> 16)
        slot.state = state
        present = bool(state & scard.SCARD_STATE_PRESENT) and not state & scard.SCARD_STATE_MUTE
        if not present or swapped or atr != slot.atr:
            self._card_left(reader)
        if present and not slot.atr:
            slot.atr = atr
            self._probe(reader)

    def _card_left(self, reader: str) -> None:
        slot = self._slots.get(reader)
        if slot is None:
            return
        fingerprint = slot.fingerprint
        slot.fingerprint, slot.ignored, slot.atr, slot.attempts = None, False, b"", 0
        if fingerprint is not None:
            log.info("NFC: key left reader %r", reader)
            _notify(self._on_removed, fingerprint)

    def _wait_ms(self) -> int:
        """How long to wait for a change: until there is one, unless a card's probe is to be retried."""
        return POLL_TIMEOUT_MS if any(_needs_probe(s) for s in self._slots.values()) else scard.INFINITE

    def _retry_probes(self) -> None:
        for reader, slot in self._slots.items():
            if _needs_probe(slot):
                self._probe(reader)

    def _probe(self, reader: str) -> None:
        slot = self._slots[reader]
        if not is_contactless_atr(slot.atr):
            log.info("NFC: ignoring the card in %r: not a contactless card (ATR %s)", reader, slot.atr.hex())
            slot.ignored = True
            return
        slot.attempts += 1
        try:
            uid, is_fido = _identify(reader)
        except Exception as e:
            if slot.attempts >= PROBE_ATTEMPTS:
                log.warning("NFC: cannot read the card in %r (%s); remove it and present it again", reader, e)
            else:
                log.debug("NFC: probing the card in %r failed (%s); will retry", reader, e)
            return
        if not is_fido:
            log.info("NFC: ignoring the card in %r: not a FIDO security key", reader)
            slot.ignored = True
            return
        identity = f"uid:{uid.hex()}" if uid else f"atr:{slot.atr.hex()}"
        slot.fingerprint = f"nfc:{reader}:{identity}"
        candidate = KeyCandidate(
            fingerprint=slot.fingerprint,
            transport="nfc",
            slot=f"NFC {reader}",
            name=f"NFC security key in {reader}",
            open=lambda: _open_key(reader),
        )
        log.info("NFC: security key in reader %r", reader)
        _notify(self._on_attached, candidate)

    def _forget_all(self) -> None:
        for reader in list(self._slots):
            self._card_left(reader)
        self._slots.clear()

    def _update_status(self) -> None:
        readers = len(self._slots)
        keys = sum(1 for s in self._slots.values() if s.fingerprint is not None)
        if readers == 0:
            self._status = "NFC: no reader"
            return
        text = f"NFC: {readers} reader{'s' if readers != 1 else ''}"
        if keys:
            text += f", {keys} key{'s' if keys != 1 else ''}"
        self._status = text


def _needs_probe(slot: _Slot) -> bool:
    return bool(slot.atr) and slot.fingerprint is None and not slot.ignored and slot.attempts < PROBE_ATTEMPTS


def _establish() -> int:
    rv, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if rv != scard.SCARD_S_SUCCESS:
        raise PcscUnavailableError(scard.SCardGetErrorMessage(rv))
    return int(context)


def _identify(reader: str) -> tuple[bytes, bool]:
    """Read the card's UID (empty if the reader cannot) and whether the FIDO applet answers SELECT.

    Shared access, and the card is left powered, so the key keeps its power-up state for ``open()``.
    """
    connection = PCSCReader(reader).createConnection()
    try:
        connection.connect(disposition=scard.SCARD_LEAVE_CARD)
        data, sw1, sw2 = connection.transmit(list(_GET_UID))
        uid = bytes(data) if (sw1, sw2) == (0x90, 0x00) else b""
        _data, sw1, sw2 = connection.transmit(list(_SELECT_FIDO))
        for _ in range(MAX_ANSWER_ROUNDS):
            if sw1 != 0x61:
                break
            _data, sw1, sw2 = connection.transmit(list(struct.pack("!BBBBB", 0, _INS_GET_RESPONSE, 0, 0, sw2)))
        return uid, (sw1, sw2) == (0x90, 0x00)
    finally:
        with contextlib.suppress(Exception):
            connection.disconnect()
        with contextlib.suppress(Exception):
            connection.release()


def _open_key(reader: str) -> CtapDevice:
    # python-fido2's PC/SC and HID code (and cryptography with them) load with the first key, not at start.
    from station.hid.nfc_device import open_ctap_device

    return open_ctap_device(reader)


def _notify(callback: Callable[[T], None], arg: T) -> None:
    try:
        callback(arg)
    except Exception:
        log.exception("NFC: key listener failed")


def _nothing(_arg: object) -> None:
    """Listener used before start()."""

