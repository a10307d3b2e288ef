"""The NFC key as the station talks to it: python-fido2's PC/SC device with the failures that matter
translated at the edge (a key that left the reader, one that answers too much or keeps processing after a
cancel). :mod:`station.hid.nfc` watches the readers and opens a key through :func:`open_ctap_device`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable

from fido2.ctap import STATUS
from fido2.pcsc import CtapPcscDevice
from smartcard import scard
from smartcard.Exceptions import CardConnectionException
from smartcard.ExclusiveConnectCardConnection import ExclusiveConnectCardConnection
from smartcard.pcsc.PCSCReader import PCSCReader

from station.errors import KeyOperationError, Reason
from station.hid.key_devices import key_answers
from station.hid.nfc import (
    _CANCEL_POLL,
    _INS_GET_RESPONSE,
    _SW_PROCESSING,
    CANCEL_GRACE_SECONDS,
    MAX_ANSWER_BYTES,
    MAX_ANSWER_ROUNDS,
    REMOVAL_SETTLE,
)

log = logging.getLogger(__name__)


class NfcKeyDevice(CtapPcscDevice):
    """python-fido2's PC/SC device, with the NFC failure that matters translated at the edge.

    A transmit that fails because the key left the reader (or the reader or pcscd went away) raises
    KeyOperationError with reason KEY_REMOVED; any other transmit failure is KEY_ERROR. ``close()``
    never raises for a card that is already gone, and releases the PC/SC context (a daemon opens a
    device per enrolment; a context left to the garbage collector holds a pcscd client slot).

    python-fido2 follows "61xx: more data" and "9100: still processing" for as long as the key says so;
    here a key that answers one command with more than MAX_ANSWER_BYTES (or MAX_ANSWER_ROUNDS parts), or
    keeps processing for CANCEL_GRACE_SECONDS after it was cancelled, fails with KEY_ERROR instead.
    """

    _answer_bytes = 0
    _answer_rounds = 0
    _cancelled_at: float | None = None

    def call(self, cmd: int, data: bytes = b"", event: threading.Event | None = None,
             on_keepalive: Callable[[STATUS], None] | None = None) -> bytes:
        with key_answers():
            return super().call(cmd, data, event, on_keepalive)

    def apdu_exchange(self, apdu: bytes, protocol: int | None = None) -> tuple[bytes, int, int]:
        try:
            response, sw1, sw2 = super().apdu_exchange(apdu, protocol)
        except CardConnectionException as e:
            if _card_gone(self._name, REMOVAL_SETTLE):
                raise KeyOperationError(
                    f"the key left NFC reader {self._name}", reason=Reason.KEY_REMOVED,
                    remedy="Lay the key on the reader again and leave it there until the station says done.",
                ) from e
            raise KeyOperationError(f"NFC reader {self._name} lost contact with the key: {e}") from e
        self._bound(apdu, response, (sw1, sw2))
        return response, sw1, sw2

    def _bound(self, apdu: bytes, response: bytes, sw: tuple[int, int]) -> None:
        if apdu[1:2] == bytes([_INS_GET_RESPONSE]):
            self._answer_rounds += 1
            self._answer_bytes += len(response)
        else:
            self._answer_rounds, self._answer_bytes = 0, len(response)
        if self._answer_bytes > MAX_ANSWER_BYTES or self._answer_rounds > MAX_ANSWER_ROUNDS:
            raise KeyOperationError(
                f"the key in NFC reader {self._name} answered one command with more than "
                f"{MAX_ANSWER_BYTES // 1024} KiB or {MAX_ANSWER_ROUNDS} parts",
                remedy="The key does not answer as a security key should. Set it aside.")
        if apdu[:4] != _CANCEL_POLL or sw != _SW_PROCESSING:
            self._cancelled_at = None
            return
        now = time.monotonic()
        if self._cancelled_at is None:
            self._cancelled_at = now
        elif now - self._cancelled_at > CANCEL_GRACE_SECONDS:
            raise KeyOperationError(
                f"the key in NFC reader {self._name} stopped answering: it was still processing "
                f"{CANCEL_GRACE_SECONDS:g} s after it was cancelled",
                remedy="Take the key off the reader and lay it on again; if it happens again, set it aside.")

    def close(self, release: bool = True) -> None:
        try:
            super().close(release=release)
        except CardConnectionException as e:
            log.debug("NFC: closing the key in %r: %s", self._name, e)
            if release:
                with contextlib.suppress(Exception):
                    self._conn.release()


def _card_gone(reader: str, settle: float) -> bool:
    """Whether ``reader`` has no card (or no longer exists), waiting up to ``settle`` s for pcscd to notice."""
    rv, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if rv != scard.SCARD_S_SUCCESS:
        return True
    try:
        state = scard.SCARD_STATE_UNAWARE
        deadline = time.monotonic() + settle
        while True:
            left_ms = max(0, int((deadline - time.monotonic()) * 1000))
            rv, changes = scard.SCardGetStatusChange(context, left_ms, [(reader, state)])
            if rv == scard.SCARD_E_TIMEOUT:
                return False
            if rv != scard.SCARD_S_SUCCESS:
                return True
            state = changes[0][1] & ~scard.SCARD_STATE_CHANGED
            if state & (scard.SCARD_STATE_UNKNOWN | scard.SCARD_STATE_UNAVAILABLE | scard.SCARD_STATE_EMPTY):
                return True
            if left_ms == 0:
                return False
    finally:
        scard.SCardReleaseContext(context)


def open_ctap_device(reader: str) -> CtapPcscDevice:
    """Connect exclusively to the key in ``reader``; the caller closes the device."""
    inner = PCSCReader(reader).createConnection()
    try:
        with key_answers():  # the applet's SELECT answer and the key's getInfo, read like every other answer
            return NfcKeyDevice(ExclusiveConnectCardConnection(inner), reader)
    except Exception:
        with contextlib.suppress(Exception):
            inner.release()
        raise
