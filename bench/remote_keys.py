"""The station side of :mod:`bench.keyhost`: plugging hosted virtual keys into an engine, as a USB watcher would.

``RemoteKeys.plug(slot)`` connects to the key host (a fresh key enters the slot) and reports a
``KeyCandidate`` whose ``open()`` gives python-fido2's unmodified ``CtapHidDevice`` over that link: one
64-byte report per ``send``/``recv``, the same system calls per report as fido2's Linux hidraw backend.
``unplug(slot)`` pulls the key out. :class:`KeyHost` runs the key host process.
"""

from __future__ import annotations

import contextlib
import errno
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from fido2.ctap import CtapDevice
from fido2.hid import CtapHidDevice
from fido2.hid.base import CtapHidConnection, HidDescriptor

from station.hid.candidate import KeyCandidate

REPORT_SIZE = 64
BENCH_VID, BENCH_PID = 0x1209, 0xBE0C


class SocketHidConnection(CtapHidConnection):
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def write_packet(self, data: bytes) -> None:
        self.sock.send(bytes(data))

    def read_packet(self) -> bytes:
        report = self.sock.recv(REPORT_SIZE)
        if not report:
            raise OSError(errno.ENODEV, "key unplugged")
        return report

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


class KeyHost:
    """The ``python -m bench.keyhost`` process: a context manager."""

    def __init__(self, socket_path: Path, latency: dict[str, float], touch_after: float) -> None:
        self.socket_path = socket_path
        self.args = [sys.executable, "-m", "bench.keyhost", "--socket", str(socket_path),
                     "--touch-after", str(touch_after)]
        for name, seconds in latency.items():
            self.args += ["--latency", f"{name}={seconds}"]
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> KeyHost:
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while not self.socket_path.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"key host did not start: {self.args}")
            time.sleep(0.05)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.proc is not None:
            stop_process(self.proc)


class RemoteKeys:
    """Hosted keys in named slots, reported to ``on_attached`` / ``on_removed`` like a key watcher."""

    def __init__(self, socket_path: Path, on_attached: Callable[[KeyCandidate], None],
                 on_removed: Callable[[str], None]) -> None:
        self.socket_path = socket_path
        self.on_attached = on_attached
        self.on_removed = on_removed
        self._lock = threading.Lock()
        self._plugged: dict[str, tuple[str, socket.socket]] = {}

    def connect(self) -> tuple[socket.socket, dict[str, str]]:
        """A fresh key from the host, and its hello (serial, name)."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        sock.connect(str(self.socket_path))
        hello = json.loads(sock.recv(4096))
        return sock, hello

    def connect_device(self, slot: str = "bench") -> tuple[socket.socket, CtapHidDevice]:
        """A fresh key, opened at once (for a script that needs no watcher)."""
        sock, hello = self.connect()
        return sock, _device(sock, slot, hello)

    def plug(self, slot: str) -> str:
        """Insert a fresh key into ``slot``; returns its fingerprint."""
        sock, hello = self.connect()
        serial, name = hello["serial"], hello["name"]

        def open_key() -> CtapDevice:
            return _device(sock, slot, hello)

        fingerprint = f"bench-{serial}"
        with self._lock:
            self._plugged[slot] = (fingerprint, sock)
        self.on_attached(KeyCandidate(fingerprint=fingerprint, transport="usb", slot=slot, name=name,
                                      open=open_key))
        return fingerprint

    def unplug(self, slot: str) -> None:
        with self._lock:
            fingerprint, sock = self._plugged.pop(slot)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()
        self.on_removed(fingerprint)

    def unplug_all(self) -> None:
        with self._lock:
            slots = list(self._plugged)
        for slot in slots:
            self.unplug(slot)


def _device(sock: socket.socket, slot: str, hello: dict[str, str]) -> CtapHidDevice:
    descriptor = HidDescriptor(f"bench:{slot}", BENCH_VID, BENCH_PID, REPORT_SIZE, REPORT_SIZE, hello["name"],
                               hello["serial"])
    return CtapHidDevice(descriptor, SocketHidConnection(sock))


def stop_process(proc: subprocess.Popen[Any]) -> None:
    """Ask a helper process to stop; kill it if it has not within 10 s."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
