"""The NFC face of the virtual key: an ISO 7816-4 FIDO applet (CTAP 2.1 §11.3, "NFC") over a VirtualKey.

It answers C-APDUs the way a contactless FIDO key does: SELECT of AID A0000006472F0001 returns the
version string, NFCCTAP_MSG (CLA 80 INS 10) carries CTAP2 CBOR in short or extended APDUs with command
chaining, long answers come back in pieces through 61xx + GET RESPONSE, and while the key waits for a
touch a client that set P1 bit 0x80 polls with NFCCTAP_GETRESPONSE and gets status 9100 + keepalive byte.
CTAP1/U2F messages travel as ISO 7816 APDUs with CLA 00.
"""

from __future__ import annotations

import logging
import struct
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fido2.ctap import STATUS, CtapError

from station_emulator.key import yubico
from station_emulator.key.authenticator import KeyRemovedError
from station_emulator.key.profiles import Quirk

if TYPE_CHECKING:
    from station_emulator.key.authenticator import VirtualKey

log = logging.getLogger(__name__)

AID_FIDO = bytes.fromhex("A0000006472F0001")

SW_OK = b"\x90\x00"
SW_KEEPALIVE = b"\x91\x00"
SW_WRONG_LENGTH = b"\x67\x00"
SW_CONDITIONS = b"\x69\x85"
SW_LAST_OF_CHAIN_EXPECTED = b"\x68\x83"
SW_FILE_NOT_FOUND = b"\x6a\x82"
SW_INS_NOT_SUPPORTED = b"\x6d\x00"
SW_CLA_NOT_SUPPORTED = b"\x6e\x00"

CLA_ISO = 0x00
CLA_PROPRIETARY = 0x80
CLA_CHAINING = 0x10
INS_SELECT = 0xA4
INS_GET_RESPONSE = 0xC0
INS_NFCCTAP_MSG = 0x10
INS_NFCCTAP_GETRESPONSE = 0x11
INS_U2F = (0x01, 0x02, 0x03)
P1_GETRESPONSE_SUPPORTED = 0x80
P1_CANCEL = 0x11

MAX_MESSAGE = 0x10000
KEEPALIVE_WAIT = 0.1


class WrongLengthError(ValueError):
    """The APDU's length bytes do not match its size."""


class BrokenChainError(ValueError):
    """A command chain was interrupted by a different command, or grew beyond any CTAP message."""


@dataclass(frozen=True)
class Apdu:
    """A parsed command APDU. ``le`` is the maximum answer length (absent Le counts as the maximum)."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes
    le: int
    extended: bool

    @classmethod
    def parse(cls, raw: bytes) -> Apdu:
        """Split an ISO 7816-4 command APDU (cases 1 to 4, short and extended)."""
        if len(raw) < 4:
            raise WrongLengthError("APDU shorter than its header")
        cla, ins, p1, p2 = raw[:4]
        body = raw[4:]
        if not body:
            return cls(cla, ins, p1, p2, b"", 256, False)
        if len(body) == 1:
            return cls(cla, ins, p1, p2, b"", body[0] or 256, False)
        if body[0] != 0:
            lc = body[0]
            if len(body) == 1 + lc:
                return cls(cla, ins, p1, p2, body[1:], 256, False)
            if len(body) == 2 + lc:
                return cls(cla, ins, p1, p2, body[1 : 1 + lc], body[-1] or 256, False)
            raise WrongLengthError("short APDU length mismatch")
        if len(body) == 3:
            return cls(cla, ins, p1, p2, b"", int.from_bytes(body[1:3], "big") or MAX_MESSAGE, True)
        lc = int.from_bytes(body[1:3], "big")
        if lc and len(body) == 3 + lc:
            return cls(cla, ins, p1, p2, body[3:], MAX_MESSAGE, True)
        if lc and len(body) == 5 + lc:
            le = int.from_bytes(body[-2:], "big") or MAX_MESSAGE
            return cls(cla, ins, p1, p2, body[3 : 3 + lc], le, True)
        raise WrongLengthError("extended APDU length mismatch")


class _Operation:
    """One CTAP2 request running on its own thread while the reader polls for its answer."""

    def __init__(self, key: VirtualKey, request: bytes) -> None:
        self.cancel = threading.Event()
        self.status = STATUS.PROCESSING
        self.response: bytes | None = None
        self.removed = False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(key, request), name="nfc-ctap", daemon=True)
        self._thread.start()

    def _run(self, key: VirtualKey, request: bytes) -> None:
        try:
            self.response = key.process_cbor(request, keepalive=self._keepalive, cancel=self.cancel)
        except KeyRemovedError:
            self.removed = True
        except Exception:
            log.exception("virtual key failed on CTAP2 command 0x%02x", request[0] if request else 0)
            self.response = bytes([CtapError.ERR.OTHER])
        finally:
            self._done.set()

    def _keepalive(self, status: int) -> None:
        self.status = STATUS(status)

    def wait(self, timeout: float | None) -> bool:
        return self._done.wait(timeout)

    def abandon(self) -> None:
        self.cancel.set()
        self._done.wait(2.0)


class FidoApplet:
    """A FIDO applet on a virtual contactless card. :meth:`process` takes a C-APDU and returns the R-APDU.

    Calls come from one reader connection at a time (the vpcd link); the applet is not re-entrant.
    :meth:`process` raises KeyRemovedError when the key leaves the field in the middle of a command
    (an injected fault): no answer goes back, and the card's link must close.
    """

    def __init__(self, key: VirtualKey, *, keepalive_wait: float = KEEPALIVE_WAIT) -> None:
        self.key = key
        self.keepalive_wait = keepalive_wait
        self._selected = False
        self._management = False  # a YubiKey's management applet is selected (yubico.py)
        self._chain: bytearray | None = None
        self._chain_header: tuple[int, int, int, int] | None = None
        self._pending_out = b""
        self._operation: _Operation | None = None

    @property
    def version(self) -> bytes:
        return b"FIDO_2_0" if self.key.profile_spec.ctap2 else b"U2F_V2"

    def power_on(self) -> None:
        """The card entered the field: a fresh power-up of the key, nothing selected."""
        self._forget()
        self.key.power_cycle()

    def power_off(self) -> None:
        """The card left the field: a running request is cancelled and its answer dropped."""
        self._forget()

    def _forget(self) -> None:
        if self._operation is not None:
            self._operation.abandon()
            self._operation = None
        self._selected = False
        self._management = False
        self._chain = None
        self._chain_header = None
        self._pending_out = b""

    def process(self, raw: bytes) -> bytes:
        try:
            apdu = Apdu.parse(raw)
        except WrongLengthError as e:
            log.debug("rejecting APDU %s: %s", raw[:8].hex(), e)
            return SW_WRONG_LENGTH
        if apdu.extended and Quirk.SHORT_APDUS_ONLY in self.key.quirks:
            return SW_WRONG_LENGTH
        if apdu.cla & ~CLA_CHAINING not in (CLA_ISO, CLA_PROPRIETARY):
            return SW_CLA_NOT_SUPPORTED
        if apdu.ins == INS_GET_RESPONSE and not apdu.cla & CLA_CHAINING:
            return self._get_response(apdu.le)
        self._pending_out = b""
        try:
            data = self._collect_chain(apdu)
        except BrokenChainError:
            return SW_LAST_OF_CHAIN_EXPECTED
        if data is None:
            return SW_OK
        cla = apdu.cla & ~CLA_CHAINING
        if len(data) > MAX_MESSAGE:
            return SW_WRONG_LENGTH
        if cla == CLA_ISO and apdu.ins == INS_SELECT:
            return self._select(apdu, data)
        if self._management and cla == CLA_ISO and apdu.ins == yubico.INS_READ_CONFIG:
            return self._answer(yubico.device_info(self.key), apdu.le)
        if not self._selected:
            return SW_CONDITIONS
        if cla == CLA_PROPRIETARY and apdu.ins == INS_NFCCTAP_MSG:
            return self._nfcctap_msg(apdu, data)
        if cla == CLA_PROPRIETARY and apdu.ins == INS_NFCCTAP_GETRESPONSE:
            return self._nfcctap_getresponse(apdu)
        if cla == CLA_ISO and apdu.ins in INS_U2F and self.key.profile_spec.u2f:
            return self._u2f(apdu, data)
        return SW_INS_NOT_SUPPORTED

    def _collect_chain(self, apdu: Apdu) -> bytes | None:
        """Gather chained command data. ``None`` while the chain goes on, the whole data at its end."""
        header = (apdu.cla & ~CLA_CHAINING, apdu.ins, apdu.p1, apdu.p2)
        if self._chain is not None and header != self._chain_header:
            self._chain = None
            raise BrokenChainError("a different command interrupted the chain")
        if apdu.cla & CLA_CHAINING:
            if self._chain is None:
                self._chain, self._chain_header = bytearray(), header
            self._chain += apdu.data
            if len(self._chain) > MAX_MESSAGE:
                self._chain = None
                raise BrokenChainError("chained data longer than any CTAP message")
            return None
        if self._chain is None:
            return apdu.data
        data = bytes(self._chain + apdu.data)
        self._chain = None
        return data

    def _select(self, apdu: Apdu, data: bytes) -> bytes:
        self._management = apdu.p1 == 0x04 and data == yubico.AID_MANAGEMENT and yubico.answers(self.key)
        if self._management:
            self._selected = False
            return self._answer(yubico.version_text(self.key), apdu.le)
        if apdu.p1 != 0x04 or data != AID_FIDO:
            self._selected = False
            return SW_FILE_NOT_FOUND
        if self._operation is not None:
            self._operation.abandon()
            self._operation = None
        self._selected = True
        return self._answer(self.version, apdu.le)

    def _nfcctap_msg(self, apdu: Apdu, data: bytes) -> bytes:
        if not self.key.profile_spec.ctap2:
            return SW_INS_NOT_SUPPORTED
        if not data:
            return SW_WRONG_LENGTH
        if self._operation is not None:
            self._operation.abandon()
        self._operation = _Operation(self.key, data)
        may_keepalive = bool(apdu.p1 & P1_GETRESPONSE_SUPPORTED)
        return self._operation_answer(apdu.le, None if not may_keepalive else self.keepalive_wait)

    def _nfcctap_getresponse(self, apdu: Apdu) -> bytes:
        if self._operation is None:
            return SW_CONDITIONS
        if apdu.p1 == P1_CANCEL:
            self._operation.cancel.set()
        return self._operation_answer(apdu.le, self.keepalive_wait)

    def _operation_answer(self, le: int, wait: float | None) -> bytes:
        operation = self._operation
        assert operation is not None
        if not operation.wait(wait):
            return bytes([operation.status]) + SW_KEEPALIVE
        self._operation = None
        if operation.removed:
            raise KeyRemovedError("the key left the field during the command")
        return self._answer(operation.response or b"", le)

    def _u2f(self, apdu: Apdu, data: bytes) -> bytes:
        message = struct.pack(">BBBBBH", apdu.cla & ~CLA_CHAINING, apdu.ins, apdu.p1, apdu.p2, 0, len(data))
        message += data + b"\x00\x00"
        response = self.key.process_u2f(message, keepalive=_ignore, cancel=threading.Event())
        body, sw = response[:-2], response[-2:]
        if sw != SW_OK:
            return body + sw
        return self._answer(body, apdu.le)

    def _answer(self, data: bytes, le: int) -> bytes:
        """Send at most ``le`` bytes now; announce the rest with 61xx for GET RESPONSE."""
        self._pending_out = data[le:]
        return data[:le] + self._more_sw()

    def _get_response(self, le: int) -> bytes:
        if not self._pending_out:
            return SW_CONDITIONS
        data, self._pending_out = self._pending_out[:le], self._pending_out[le:]
        return data + self._more_sw()

    def _more_sw(self) -> bytes:
        if not self._pending_out:
            return SW_OK
        return bytes([0x61, min(len(self._pending_out), 256) & 0xFF])


def _ignore(_status: int) -> None:
    """U2F has no keepalive: the client polls until the key stops answering 6985."""
