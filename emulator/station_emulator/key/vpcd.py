"""A vsmartcard vpcd client: puts the virtual key, as a contactless FIDO card, into a pcscd reader.

vpcd is a pcscd reader driver listening on TCP (127.0.0.1:35963 for reader "Virtual PCD 00 00").
Connecting to it is inserting a card; closing the connection is removing it. Every message either way is
a 2-byte big-endian length and a payload; from the reader, a 1-byte payload is a control code (power off,
power on, reset, ATR request) and anything longer is a command APDU to answer with data + SW1SW2.
The reader's pseudo-APDU GET DATA (FF CA 00 00) is answered with the card's UID, as an NFC reader would.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import logging
import signal
import socket
import struct
import threading
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any

from station.errors import Reason, StationError
from station_emulator.key.authenticator import KeyRemovedError
from station_emulator.key.nfc_applet import FidoApplet

if TYPE_CHECKING:
    from station_emulator.key.authenticator import VirtualKey

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 35963

CTRL_OFF = 0
CTRL_ON = 1
CTRL_RESET = 2
CTRL_ATR = 4

# PC/SC Part 3 ATR of an ISO 14443-4 type A card: 3B 8n 80 01, historical bytes (from the ATS), TCK.
_HISTORICAL_BYTES = bytes.fromhex("8073C021C0") + b"Station"
_SW_OK = b"\x90\x00"
_SW_FUNCTION_NOT_SUPPORTED = b"\x6a\x81"
_SW_WRONG_P1P2 = b"\x6b\x00"
_CLA_READER = 0xFF
_INS_GET_DATA = 0xCA

RECONNECT_MAX = 5.0


def contactless_atr(historical: bytes = _HISTORICAL_BYTES) -> bytes:
    """The ATR a PC/SC reader builds for an ISO 14443-4 card with these historical bytes."""
    body = bytes([0x80 | len(historical), 0x80, 0x01]) + historical
    tck = 0
    for b in body:
        tck ^= b
    return b"\x3b" + body + bytes([tck])


class VpcdError(StationError):
    """The vpcd reader cannot be reached, or may not be used from here."""

    reason = Reason.CONFIG_INVALID
    remedy = "Start pcscd with the vsmartcard vpcd driver, and point --vpcd-host/--vpcd-port at it."


def _uid_for(key: VirtualKey) -> bytes:
    return b"\x04" + hashlib.sha256(f"station nfc uid {key.serial}".encode()).digest()[:6]


def check_host(host: str, *, allow_remote: bool = False) -> None:
    """Refuse a vpcd host that is not this machine: the link carries PINs and credentials in clear."""
    if allow_remote:
        return
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError as e:
        raise VpcdError(f"cannot resolve vpcd host {host!r}: {e}") from e
    for info in infos:
        if not ipaddress.ip_address(info[4][0]).is_loopback:
            raise VpcdError(
                f"vpcd host {host!r} is not a loopback address",
                remedy="The vpcd link is unencrypted: use 127.0.0.1.",
            )


class VpcdCard:
    """One virtual key as a card in one vpcd reader; :meth:`insert` and :meth:`remove` it at will.

    ``uid`` is what GET DATA returns: a fixed 7-byte UID, like most FIDO NFC keys, by default derived
    from the key's serial number so a key kept in a state file keeps its UID across runs.
    ``removed`` is set whenever the card is out of the reader, including when the reader side closed
    the link (pcscd stopped).
    """

    def __init__(
        self,
        key: VirtualKey,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        *,
        uid: bytes | None = None,
        allow_remote: bool = False,
    ) -> None:
        check_host(host, allow_remote=allow_remote)
        self.key = key
        self.host = host
        self.port = port
        self.uid = uid if uid is not None else _uid_for(key)
        self.atr = contactless_atr()
        self.applet = FidoApplet(key)
        self.removed = threading.Event()
        self.removed.set()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def inserted(self) -> bool:
        return not self.removed.is_set()

    def insert(self, timeout: float = 5.0) -> None:
        """Connect to the reader (the card enters the field). Raises VpcdError if vpcd is not there."""
        with self._lock:
            if self.inserted:
                return
            try:
                sock = socket.create_connection((self.host, self.port), timeout=timeout)
            except OSError as e:
                raise VpcdError(f"cannot reach vpcd at {self.host}:{self.port}: {e}", retryable=True) from e
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sock = sock
            self.removed.clear()
            self._thread = threading.Thread(target=self._serve, args=(sock,), name="vpcd-card", daemon=True)
            self._thread.start()
        log.info("virtual key inserted into vpcd %s:%d", self.host, self.port)

    def remove(self) -> None:
        """Close the link (the card leaves the field); returns once the card is out."""
        with self._lock:
            sock, thread = self._sock, self._thread
            self._sock = self._thread = None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        if thread is not None and thread is not threading.current_thread():
            thread.join(5.0)
        self.removed.set()

    def _serve(self, sock: socket.socket) -> None:
        try:
            while True:
                message = _recv_message(sock)
                if message is None:
                    break
                answer = self._handle(message)
                if answer is not None:
                    sock.sendall(struct.pack(">H", len(answer)) + answer)
        except KeyRemovedError:
            log.info("virtual key pulled out of vpcd %s:%d in the middle of a command", self.host, self.port)
        except OSError as e:
            log.debug("vpcd link closed: %s", e)
        finally:
            sock.close()
            self.applet.power_off()
            self.removed.set()
            log.info("virtual key out of vpcd %s:%d", self.host, self.port)

    def _handle(self, message: bytes) -> bytes | None:
        if len(message) == 1:
            return self._control(message[0])
        if message[0] == _CLA_READER:
            return self._reader_apdu(message)
        return self.applet.process(message)

    def _control(self, code: int) -> bytes | None:
        if code == CTRL_ATR:
            return self.atr
        if code == CTRL_OFF:
            self.applet.power_off()
        elif code in (CTRL_ON, CTRL_RESET):
            self.applet.power_on()
        else:
            log.debug("ignoring unknown vpcd control code %d", code)
        return None

    def _reader_apdu(self, apdu: bytes) -> bytes:
        if len(apdu) >= 4 and apdu[1] == _INS_GET_DATA:
            if apdu[2:4] == b"\x00\x00":
                return self.uid + _SW_OK
            if apdu[2:4] == b"\x01\x00":
                return _HISTORICAL_BYTES + _SW_OK
            return _SW_WRONG_P1P2
        return _SW_FUNCTION_NOT_SUPPORTED

    def __enter__(self) -> VpcdCard:
        self.insert()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.remove()


def _recv_exactly(sock: socket.socket, size: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < size:
        _ack_quickly(sock)
        chunk = sock.recv(size - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def _ack_quickly(sock: socket.socket) -> None:
    """vpcd writes a message's length and its body separately; without an immediate ACK of the first
    write, Nagle's algorithm on its side holds the body back for the delayed-ACK time (~40 ms per APDU).
    Linux clears TCP_QUICKACK after use, so it is set before every read."""
    quickack = getattr(socket, "TCP_QUICKACK", None)
    if quickack is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, quickack, 1)


def _recv_message(sock: socket.socket) -> bytes | None:
    header = _recv_exactly(sock, 2)
    if header is None:
        return None
    (size,) = struct.unpack(">H", header)
    return _recv_exactly(sock, size) if size else b""


def serve(
    key: VirtualKey,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    stop: threading.Event | None = None,
    *,
    allow_remote: bool = False,
) -> None:
    """Keep the key in the vpcd reader until ``stop`` is set or SIGINT/SIGTERM arrives.

    If the reader goes away (pcscd stopped or restarted) the card is put back as soon as it returns.
    Signals are only handled when called from the main thread.
    """
    stop = stop or threading.Event()
    card = VpcdCard(key, host, port, allow_remote=allow_remote)
    previous_handlers = _stop_on_signals(stop)
    delay = 0.25
    warned = False
    try:
        while not stop.is_set():
            try:
                card.insert()
            except VpcdError as e:
                if not warned:
                    log.warning("%s — retrying until it is there", e.message)
                    warned = True
                stop.wait(delay)
                delay = min(delay * 2, RECONNECT_MAX)
                continue
            warned, delay = False, 0.25
            while not stop.is_set() and card.inserted:
                stop.wait(0.2)
            if not stop.is_set():
                log.warning("vpcd %s:%d closed the link; putting the key back when it returns", host, port)
    finally:
        card.remove()
        for sig, previous in previous_handlers.items():
            signal.signal(sig, previous)


def _stop_on_signals(stop: threading.Event) -> dict[signal.Signals, Any]:
    """Make SIGINT/SIGTERM set ``stop``; returns the previous handlers (none off the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: removing the virtual key", signum)
        stop.set()

    return {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
