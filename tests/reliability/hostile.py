"""Hostile keys: a real virtual key behind a transport that corrupts one of its answers.

``HostileHid`` is a python-fido2 ``CtapHidConnection`` and ``HostileCard`` a pyscard-like card connection
(for ``station.hid.nfc_device.NfcKeyDevice``); both relay to a ``VirtualKey`` and rewrite its ``at``-th answer
according to a ``Corruption``. When the host waits for more than the key will ever send (a truncated or
over-long answer), the key behaves as gone: reads fail as on an unplugged device.

A key can also get stuck on one CTAP command (``Corruption.number`` is the command byte, ``at`` unused):
``stuck`` keeps answering "processing" (a keepalive every 0.1 s, or 9100) until it is cancelled, then
answers KEEPALIVE_CANCEL as the protocol asks; ``stuck_deaf`` (NFC) ignores the cancel too;
``endless_chain`` (NFC) answers with "61xx: more data" forever. ``hid_candidate`` and ``nfc_candidate``
make such a key a ``KeyCandidate`` for the engine.
"""

from __future__ import annotations

import errno
import struct
import time
from collections import deque
from dataclasses import dataclass

from fido2.ctap import CtapDevice, CtapError
from fido2.hid import CTAPHID, TYPE_INIT
from fido2.hid.base import CtapHidConnection, HidDescriptor
from smartcard.Exceptions import CardConnectionException

from station.hid.candidate import KeyCandidate
from station.hid.key_devices import open_usb_key
from station.hid.nfc_device import NfcKeyDevice
from station_emulator.key import VirtualKey
from station_emulator.key.ctaphid import PACKET_SIZE, CtapHidResponder, VirtualHidConnection
from station_emulator.key.nfc_applet import FidoApplet

INIT_DATA = PACKET_SIZE - 7
CONT_DATA = PACKET_SIZE - 5
PROCESSING = 0x01
KEEPALIVE_EVERY = 0.1
CANCELLED = bytes([CtapError.ERR.KEEPALIVE_CANCEL])


@dataclass(frozen=True)
class Corruption:
    """Rewrite answer number ``at`` (0 = the first): ``kind`` says how, ``number`` and ``data`` with what."""

    at: int
    kind: str
    number: int = 0
    data: bytes = b""


def frames(cid: int, cmd: int, payload: bytes, declared: int | None = None) -> list[bytes]:
    length = len(payload) if declared is None else declared
    out = [struct.pack(">IBH", cid, cmd, length) + payload[:INIT_DATA]]
    rest, seq = payload[INIT_DATA:], 0
    while rest:
        out.append(struct.pack(">IB", cid, seq & 0x7F) + rest[:CONT_DATA])
        rest, seq = rest[CONT_DATA:], seq + 1
    return [f.ljust(PACKET_SIZE, b"\0") for f in out]


class HostileHid(CtapHidConnection):
    def __init__(self, key: VirtualKey, corruption: Corruption) -> None:
        self.inner = VirtualHidConnection(CtapHidResponder(key))
        self.corruption = corruption
        self.answers = 0
        self.pending: deque[bytes] = deque()
        self.awaiting = False
        self.stuck: tuple[int, int] | None = None
        self.cancelled = False

    def write_packet(self, data: bytes) -> None:
        if data[4] == TYPE_INIT | CTAPHID.CANCEL:
            self.cancelled = self.stuck is not None
        elif data[4] & TYPE_INIT:
            self.awaiting = True
            if self.corruption.kind == "stuck" and data[4] == TYPE_INIT | CTAPHID.CBOR \
                    and data[7] == self.corruption.number:
                self.stuck = struct.unpack_from(">IB", data)
                return
        if self.stuck is None:
            self.inner.write_packet(data)

    def read_packet(self) -> bytes:
        if self.pending:
            return self.pending.popleft()
        if self.stuck is not None:
            cid, cmd = self.stuck
            if self.cancelled:
                self.stuck, self.awaiting = None, False
                return frames(cid, cmd, CANCELLED)[0]
            time.sleep(KEEPALIVE_EVERY)
            return frames(cid, TYPE_INIT | CTAPHID.KEEPALIVE, bytes([PROCESSING]))[0]
        if not self.awaiting:
            raise OSError(errno.ENODEV, "the key stopped answering")
        first = self.inner.read_packet()
        cid, cmd, length = struct.unpack_from(">IBH", first)
        if cmd == TYPE_INIT | CTAPHID.KEEPALIVE:
            return first
        payload = first[7:7 + length]
        while len(payload) < length:
            payload += self.inner.read_packet()[5:5 + length - len(payload)]
        self.awaiting = False
        index, self.answers = self.answers, self.answers + 1
        out = self._corrupt(cid, cmd, payload) if index == self.corruption.at else frames(cid, cmd, payload)
        self.pending.extend(out[1:])
        return out[0]

    def _corrupt(self, cid: int, cmd: int, payload: bytes) -> list[bytes]:
        c = self.corruption
        if c.kind == "channel":
            return frames(cid ^ (c.number | 1), cmd, payload)
        if c.kind == "command":
            other = TYPE_INIT | (c.number & 0x7F)
            return frames(cid, other if other != cmd else TYPE_INIT | 0x7E, payload)
        if c.kind == "declared_length":
            return frames(cid, cmd, payload, declared=c.number & 0xFFFF)
        if c.kind == "truncated":
            full = frames(cid, cmd, payload)
            keep = 1 + c.number % len(full)
            if keep < len(full):
                return full[:keep]
            return frames(cid, cmd, payload, declared=len(payload) + 1 + c.number % 1000)
        if c.kind == "garbage":
            return [c.data[i:i + PACKET_SIZE].ljust(PACKET_SIZE, b"\0") for i in range(0, max(1, len(c.data)),
                                                                                   PACKET_SIZE)]
        if c.kind == "cbor" and cmd == TYPE_INIT | CTAPHID.CBOR:
            return frames(cid, cmd, b"\x00" + c.data)
        return frames(cid, cmd, payload)

    def close(self) -> None:
        self.inner.close()


class HostileCard:
    """Enough of pyscard's CardConnection for python-fido2's ``CtapPcscDevice``."""

    def __init__(self, key: VirtualKey, corruption: Corruption) -> None:
        self.applet = FidoApplet(key)
        self.corruption = corruption
        self.answers = 0
        self.gone = False
        self.stuck = False

    def connect(self, *args: object, **kwargs: object) -> None:
        self.applet.power_on()

    def disconnect(self) -> None:
        self.applet.power_off()

    def release(self) -> None:
        self.gone = True

    def getATR(self) -> list[int]:
        return list(bytes.fromhex("3b8f8001804f0ca000000306030000000000006b"))

    def transmit(self, apdu: list[int], protocol: int | None = None) -> tuple[list[int], int, int]:
        if self.gone:
            raise CardConnectionException("the key left the reader")
        stuck = self._stuck(bytes(apdu))
        if stuck is not None:
            return stuck
        answer = self.applet.process(bytes(apdu))
        data, sw1, sw2 = answer[:-2], answer[-2], answer[-1]
        index, self.answers = self.answers, self.answers + 1
        if index == self.corruption.at:
            data, sw1, sw2 = self._corrupt(data, sw1, sw2)
        return list(data), sw1, sw2

    def _stuck(self, apdu: bytes) -> tuple[list[int], int, int] | None:
        """The answer of a key stuck on the command ``corruption.number``, or None while it is not."""
        c = self.corruption
        if c.kind not in ("stuck", "stuck_deaf", "endless_chain"):
            return None
        if not self.stuck and apdu[1] == 0x10 and len(apdu) > 5 and apdu[5] == c.number:
            self.stuck = True
        if not self.stuck:
            return None
        if c.kind == "endless_chain":
            return [0x5A] * 250, 0x61, 0xFA
        if c.kind == "stuck" and apdu[1] == 0x11 and apdu[2] == 0x11:
            self.stuck = False
            return list(CANCELLED), 0x90, 0x00
        return [PROCESSING], 0x91, 0x00

    def _corrupt(self, data: bytes, sw1: int, sw2: int) -> tuple[bytes, int, int]:
        c = self.corruption
        if c.kind == "status_word":
            return data, (c.number >> 8) & 0xFF, c.number & 0xFF
        if c.kind == "short_data":
            return data[: c.number % max(1, len(data))], sw1, sw2
        if c.kind == "long_data":
            return data + c.data, sw1, sw2
        if c.kind == "more_data":
            # "61xx: more to come" — then the key leaves before the rest.
            self.gone = True
            return data, 0x61, c.number & 0xFF
        if c.kind == "cbor" and data[:1] == b"\x00":
            return b"\x00" + c.data, sw1, sw2
        return data, sw1, sw2


def hid_candidate(key: VirtualKey, corruption: Corruption, slot: str) -> KeyCandidate:
    def open_hostile() -> CtapDevice:
        descriptor = HidDescriptor(f"hostile:{slot}", 0x1209, 0x5A7E, 64, 64, "Hostile key", key.serial)
        return open_usb_key(descriptor, HostileHid(key, corruption))  # as the USB watcher opens a key

    return KeyCandidate(fingerprint=f"virtual-{key.serial}", transport="usb", slot=slot, name="Hostile key",
                        open=open_hostile)


def nfc_candidate(key: VirtualKey, corruption: Corruption, slot: str) -> KeyCandidate:
    def open_hostile() -> NfcKeyDevice:
        return NfcKeyDevice(HostileCard(key, corruption), slot)

    return KeyCandidate(fingerprint=f"virtual-{key.serial}", transport="nfc", slot=slot, name="Hostile key",
                        open=open_hostile)
