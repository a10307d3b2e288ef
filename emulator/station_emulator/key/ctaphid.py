"""The CTAPHID face of a virtual key: packet framing, channels, keepalive and cancel, device side.

``CtapHidResponder`` takes 64-byte host→device reports and produces device→host reports; commands run on a
worker thread so CANCEL, INIT and other channels are answered while a command waits for touch.
``VirtualHidConnection`` wraps a responder as a ``fido2.hid.base.CtapHidConnection`` so python-fido2's
``CtapHidDevice`` talks to the key in-process; the hidraw face feeds the same responder from /dev/hidrawN.
"""

from __future__ import annotations

import errno
import logging
import os
import queue
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fido2.hid import CAPABILITY, CTAPHID, CtapHidDevice
from fido2.hid.base import CtapHidConnection, HidDescriptor

from station_emulator.key import yubico
from station_emulator.key.authenticator import KeyRemovedError, VirtualKey
from station_emulator.key.profiles import Quirk

log = logging.getLogger(__name__)

PACKET_SIZE = 64
BROADCAST_CID = 0xFFFFFFFF
TYPE_INIT = 0x80
CTAPHID_PROTOCOL_VERSION = 2
MAX_MESSAGE_SIZE = PACKET_SIZE - 7 + 128 * (PACKET_SIZE - 5)
VIRTUAL_VID = 0x1209
VIRTUAL_PID = 0x0001
TRANSACTION_TIMEOUT = 0.5


class HidError:
    """CTAPHID_ERROR codes."""

    INVALID_CMD = 0x01
    INVALID_PAR = 0x02
    INVALID_LEN = 0x03
    INVALID_SEQ = 0x04
    MSG_TIMEOUT = 0x05
    CHANNEL_BUSY = 0x06
    INVALID_CHANNEL = 0x0B
    OTHER = 0x7F


@dataclass
class _Assembly:
    cid: int
    cmd: int
    length: int
    data: bytearray
    seq: int = 0
    started: float = field(default_factory=time.monotonic)


@dataclass
class _Job:
    cid: int
    cmd: int
    cancel: threading.Event = field(default_factory=threading.Event)
    abandoned: bool = False


class CtapHidResponder:
    """Device side of CTAPHID for one virtual key."""

    def __init__(self, key: VirtualKey) -> None:
        self.key = key
        self._out: queue.Queue[bytes] = queue.Queue()
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._channels: set[int] = set()
        self._next_cid = int.from_bytes(os.urandom(2), "big") + 1
        self._assembly: _Assembly | None = None
        self._job: _Job | None = None
        self.closed = False

    @property
    def capabilities(self) -> int:
        caps = CAPABILITY.WINK
        if self.key.profile_spec.ctap2:
            caps |= CAPABILITY.CBOR
        if not self.key.profile_spec.u2f:
            caps |= CAPABILITY.NMSG
        return int(caps)

    def write_packet(self, packet: bytes) -> None:
        """Accept one host→device report (64 bytes, no report id)."""
        if self.closed or self.key.removed.is_set() or len(packet) < 5:
            return
        packet = bytes(packet[:PACKET_SIZE]).ljust(PACKET_SIZE, b"\0")
        cid, kind = struct.unpack_from(">IB", packet)
        with self._lock:
            if kind & TYPE_INIT:
                self._on_init_packet(cid, kind & 0x7F, packet)
            else:
                self._on_continuation(cid, kind, packet[5:])

    def read_packet(self, timeout: float | None = None) -> bytes | None:
        """The next device→host report, or None when none came within ``timeout`` seconds."""
        try:
            return self._out.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self.closed = True
        with self._lock:
            if self._job is not None:
                self._job.abandoned = True
                self._job.cancel.set()

    def _on_init_packet(self, cid: int, cmd: int, packet: bytes) -> None:
        length = struct.unpack_from(">H", packet, 5)[0]
        data = packet[7:7 + length]
        if cmd == CTAPHID.INIT:
            self._init(cid, length, data)
            return
        if cid == BROADCAST_CID or cid not in self._channels:
            self._error(cid, HidError.INVALID_CHANNEL)
            return
        if cmd == CTAPHID.CANCEL:
            if Quirk.IGNORES_CANCEL in self.key.quirks:
                log.debug("CTAPHID CANCEL ignored (quirk)")
                return
            if self._job is not None and self._job.cid == cid:
                self._job.cancel.set()
            return
        self._expire_stalled_assembly()
        if self._job is not None or (self._assembly is not None and self._assembly.cid != cid):
            self._error(cid, HidError.CHANNEL_BUSY)
            return
        if self._assembly is not None:
            self._assembly = None
            self._error(cid, HidError.INVALID_SEQ)
            return
        if length > MAX_MESSAGE_SIZE:
            self._error(cid, HidError.INVALID_LEN)
            return
        self._assembly = _Assembly(cid, cmd, length, bytearray(data))
        self._complete_if_whole()

    def _expire_stalled_assembly(self) -> None:
        """A message whose continuation packets stopped coming frees the device (ERR_MSG_TIMEOUT)."""
        assembly = self._assembly
        if assembly is not None and time.monotonic() - assembly.started > TRANSACTION_TIMEOUT:
            self._assembly = None
            self._error(assembly.cid, HidError.MSG_TIMEOUT)

    def _on_continuation(self, cid: int, seq: int, body: bytes) -> None:
        assembly = self._assembly
        if assembly is None or assembly.cid != cid:
            return
        if seq != assembly.seq:
            self._assembly = None
            self._error(cid, HidError.INVALID_SEQ)
            return
        assembly.seq += 1
        assembly.data += body
        self._complete_if_whole()

    def _complete_if_whole(self) -> None:
        assembly = self._assembly
        if assembly is None or len(assembly.data) < assembly.length:
            return
        self._assembly = None
        self._dispatch(assembly.cid, assembly.cmd, bytes(assembly.data[:assembly.length]))

    def _init(self, cid: int, length: int, nonce: bytes) -> None:
        if length != 8:
            self._error(cid, HidError.INVALID_LEN)
            return
        if cid == BROADCAST_CID:
            new_cid = self._allocate_channel()
        elif cid in self._channels:
            new_cid = cid
            if self._job is not None and self._job.cid == cid:
                self._job.abandoned = True
                self._job.cancel.set()
                self._job = None
            if self._assembly is not None and self._assembly.cid == cid:
                self._assembly = None
        else:
            self._error(cid, HidError.INVALID_CHANNEL)
            return
        fw = self.key.firmware
        payload = nonce + struct.pack(
            ">IBBBBB", new_cid, CTAPHID_PROTOCOL_VERSION, (fw >> 16) & 0xFF, (fw >> 8) & 0xFF, fw & 0xFF,
            self.capabilities,
        )
        self._send(cid, CTAPHID.INIT, payload)

    def _allocate_channel(self) -> int:
        cid = self._next_cid
        self._next_cid = self._next_cid % 0xFFFFFFFE + 1
        self._channels.add(cid)
        return cid

    def _dispatch(self, cid: int, cmd: int, data: bytes) -> None:
        if cmd == CTAPHID.PING:
            self._send(cid, cmd, data)
        elif cmd == CTAPHID.WINK:
            self.key.wink_count += 1
            self._send(cid, cmd, b"")
        elif cmd == CTAPHID.MSG and self.key.profile_spec.u2f:
            self._start(cid, cmd, data, self.key.process_u2f)
        elif cmd == CTAPHID.CBOR and self.key.profile_spec.ctap2:
            self._start(cid, cmd, data, self.key.process_cbor)
        elif cmd == yubico.CTAPHID_READ_CONFIG and yubico.answers(self.key):
            self._send(cid, cmd, yubico.device_info(self.key))
        else:
            self._error(cid, HidError.INVALID_CMD)

    def _start(self, cid: int, cmd: int, data: bytes,
               process: Callable[..., bytes]) -> None:
        job = _Job(cid, cmd)
        self._job = job

        def keepalive(status: int) -> None:
            if not job.abandoned:
                self._send(cid, CTAPHID.KEEPALIVE, bytes([status]))

        def run() -> None:
            response: bytes | None
            try:
                response = process(data, keepalive=keepalive, cancel=job.cancel)
            except KeyRemovedError:
                response = None
            except Exception:
                log.exception("virtual key failed on CTAPHID command 0x%02x", cmd)
                response = None
                if not job.abandoned:
                    self._error(cid, HidError.OTHER)
            with self._lock:
                if self._job is job:
                    self._job = None
                if response is not None and not job.abandoned:
                    self._send(cid, cmd, response)

        threading.Thread(target=run, name=f"virtual-key-{self.key.serial}-{cid:08x}", daemon=True).start()

    def _error(self, cid: int, code: int) -> None:
        self._send(cid, CTAPHID.ERROR, bytes([code]))

    def _send(self, cid: int, cmd: int, data: bytes) -> None:
        packets = [struct.pack(">IBH", cid, TYPE_INIT | cmd, len(data)) + data[:PACKET_SIZE - 7]]
        rest = data[PACKET_SIZE - 7:]
        seq = 0
        while rest:
            packets.append(struct.pack(">IB", cid, seq) + rest[:PACKET_SIZE - 5])
            rest = rest[PACKET_SIZE - 5:]
            seq += 1
        with self._send_lock:
            for packet in packets:
                self._out.put(packet.ljust(PACKET_SIZE, b"\0"))


class VirtualHidConnection(CtapHidConnection):
    """A ``CtapHidConnection`` to a responder; reads fail with ENODEV once the key is pulled out."""

    def __init__(self, responder: CtapHidResponder) -> None:
        self.responder = responder

    def write_packet(self, data: bytes) -> None:
        if self.responder.key.removed.is_set():
            raise OSError(errno.ENODEV, "virtual key removed")
        self.responder.write_packet(data)

    def read_packet(self) -> bytes:
        while True:
            packet = self.responder.read_packet(timeout=0.05)
            if packet is not None:
                return packet
            if self.responder.closed:
                raise OSError(errno.EBADF, "virtual key connection closed")
            if self.responder.key.removed.is_set():
                raise OSError(errno.ENODEV, "virtual key removed")

    def close(self) -> None:
        self.responder.close()


def open_virtual_device(key: VirtualKey, path: str = "virtual:0",
                        device: Callable[[HidDescriptor, CtapHidConnection], CtapHidDevice] = CtapHidDevice,
                        ) -> CtapHidDevice:
    """A python-fido2 ``CtapHidDevice`` (or the ``device`` class given, e.g. the station's) talking CTAPHID to
    ``key`` in-process."""
    # A YubiKey has no USB serial string: its serial comes from the management application (yubico.py).
    descriptor = HidDescriptor(path, VIRTUAL_VID, VIRTUAL_PID, PACKET_SIZE, PACKET_SIZE,
                               key.profile_spec.product_name, None if yubico.answers(key) else key.serial)
    return device(descriptor, VirtualHidConnection(CtapHidResponder(key)))
