"""The systemd notify protocol: READY=1, STATUS=, WATCHDOG=1 and STOPPING=1 on ``$NOTIFY_SOCKET``.

``Notifier.from_environment()`` sends datagrams to the socket systemd names (a path, or an abstract
socket written ``@name``); without ``NOTIFY_SOCKET`` every call does nothing, so the daemon runs the same
under systemd, in a terminal and in tests. A failed send is logged once and never raised: telling
systemd about the daemon must not take the daemon down.
"""

from __future__ import annotations

import logging
import os
import socket
import threading

log = logging.getLogger(__name__)


class Notifier:
    def __init__(self, address: str | None) -> None:
        self.address = address
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._failed = False
        self._last_status: str | None = None

    @classmethod
    def from_environment(cls) -> Notifier:
        return cls(os.environ.get("NOTIFY_SOCKET") or None)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, *fields: str) -> bool:
        """Send ``KEY=VALUE`` lines as one datagram; False when there is nowhere to send or it failed."""
        if self.address is None:
            return False
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        payload = "\n".join(fields).encode("utf-8")
        with self._lock:
            try:
                if self._sock is None:
                    self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._sock.sendto(payload, target)
            except OSError as e:
                if not self._failed:
                    log.warning("cannot notify systemd at %s: %s", self.address, e)
                    self._failed = True
                return False
        return True

    def ready(self, status: str = "") -> bool:
        fields = ["READY=1", f"MAINPID={os.getpid()}"]
        if status:
            fields.append(f"STATUS={one_line(status)}")
            self._last_status = one_line(status)
        return self.send(*fields)

    def status(self, text: str) -> bool:
        """Send STATUS= when ``text`` differs from the last status sent."""
        line = one_line(text)
        if line == self._last_status:
            return False
        self._last_status = line
        return self.send(f"STATUS={line}")

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def stopping(self, status: str = "") -> bool:
        fields = ["STOPPING=1"]
        if status:
            fields.append(f"STATUS={one_line(status)}")
        return self.send(*fields)

    def reloading(self) -> bool:
        return self.send("RELOADING=1")

    def close(self) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None


def watchdog_interval() -> float | None:
    """How often to send WATCHDOG=1 (half the period systemd asked for), or None when it asked for none."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        seconds = int(usec) / 1_000_000
    except ValueError:
        return None
    return seconds / 2 if seconds > 0 else None


def one_line(text: str) -> str:
    return " ".join(text.split())
