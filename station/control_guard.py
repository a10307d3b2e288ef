"""What keeps the control socket serving root when other users misbehave: admission, request deadlines, quiet refusals.

* ``Admission`` counts connections per peer user, once SO_PEERCRED has said who the peer is. At most
  ``MAX_CONNECTIONS`` are served at once; peers who may not control the station (see ``control.Peer``) get at
  most ``MAX_CONNECTIONS_PER_USER`` each and together never the last ``PRIVILEGED_RESERVE`` — those are kept
  for root, the daemon's own user and the control group, so no other user can lock them out of
  ``station status``.
* ``RequestReader`` reads request lines against a deadline for the whole line: a connection may stay silent
  for the idle timeout, but once a line has begun it must end within the request timeout (a client that
  dribbles one byte at a time is cut off, whatever its pace).
* ``RateLimitedWarning`` logs the first refusal at once and then at most one line per interval, with how
  many were refused meanwhile, so a flood of connections cannot flood the journal.
"""

from __future__ import annotations

import contextlib
import grp
import logging
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Final, Protocol

from station.errors import ControlError, Reason
from station.files import private_dir

log = logging.getLogger(__name__)

MAX_CONNECTIONS: Final = 64
MAX_CONNECTIONS_PER_USER: Final = 8
PRIVILEGED_RESERVE: Final = 16
MAX_REQUEST_BYTES: Final = 64 * 1024
MAX_SKIPPED_BYTES: Final = 16 * MAX_REQUEST_BYTES
REQUEST_TIMEOUT: Final = 10.0
REFUSAL_LOG_SECONDS: Final = 10.0
SOCKET_DIR_MODE: Final = 0o750
_RECV_BYTES: Final = 65536


class PeerIdentity(Protocol):
    @property
    def uid(self) -> int: ...
    @property
    def may_control(self) -> bool: ...


class Admission:
    """Connection slots by peer user. Thread-safe."""

    def __init__(self, total: int = MAX_CONNECTIONS, per_user: int = MAX_CONNECTIONS_PER_USER,
                 reserve: int = PRIVILEGED_RESERVE) -> None:
        self.total, self.per_user, self.reserve = total, per_user, min(reserve, total)
        self._lock = threading.Lock()
        self._open = 0
        self._unprivileged: Counter[int] = Counter()

    def admit(self, peer: PeerIdentity) -> ControlError | None:
        """None when ``peer`` takes a slot (give it back with ``release``), else why it may not."""
        with self._lock:
            if self._open >= self.total:
                return _busy(f"the station serves {self.total} control connections at once")
            if not peer.may_control:
                if self._unprivileged[peer.uid] >= self.per_user:
                    return _busy(f"uid {peer.uid} has {self.per_user} control connections open already "
                                 f"(the most one user outside the control group may have)")
                if sum(self._unprivileged.values()) >= self.total - self.reserve:
                    return _busy(f"the {self.total - self.reserve} control connections for users outside the "
                                 f"control group are all in use")
                self._unprivileged[peer.uid] += 1
            self._open += 1
            return None

    def release(self, peer: PeerIdentity) -> None:
        with self._lock:
            self._open -= 1
            if not peer.may_control:
                self._unprivileged[peer.uid] -= 1
                if self._unprivileged[peer.uid] <= 0:
                    del self._unprivileged[peer.uid]


def _busy(message: str) -> ControlError:
    return ControlError(message, reason=Reason.DAEMON_UNAVAILABLE, retryable=True,
                        remedy="Close other 'station tui' or status clients, or try again shortly.")


class LineTooLong(Exception):
    """A request line passed MAX_REQUEST_BYTES; ``RequestReader.skip_line`` reads past the rest of it."""


class RequestReader:
    """Request lines from one connection, each bounded in size and in time."""

    def __init__(self, conn: socket.socket, *, idle_timeout: float, request_timeout: float = REQUEST_TIMEOUT) -> None:
        self._conn = conn
        self.idle_timeout, self.request_timeout = idle_timeout, request_timeout
        self._buffer = bytearray()
        self._line_deadline: float | None = None

    def next_line(self) -> bytes:
        """The next line with its newline; b"" when the client has finished. TimeoutError when no line begins
        within the idle timeout or a begun line does not end within the request timeout; LineTooLong."""
        idle_deadline = time.monotonic() + self.idle_timeout
        self._line_deadline = None
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0 and end < MAX_REQUEST_BYTES:
                line = bytes(self._buffer[:end + 1])
                del self._buffer[:end + 1]
                return line
            if end >= 0 or len(self._buffer) > MAX_REQUEST_BYTES:
                raise LineTooLong
            if not self._receive(idle_deadline):
                return b""

    def skip_line(self) -> bool:
        """Read past the rest of an over-long line (within its deadline); False when it goes on beyond
        MAX_SKIPPED_BYTES or the client finishes first."""
        skipped = 0
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                del self._buffer[:end + 1]
                return True
            skipped += len(self._buffer)
            self._buffer.clear()
            if skipped > MAX_SKIPPED_BYTES:
                log.warning("closing a control connection that sent more than %d bytes without a newline", skipped)
                return False
            if not self._receive(time.monotonic() + self.idle_timeout):
                return False

    def _receive(self, idle_deadline: float) -> bool:
        if self._buffer and self._line_deadline is None:
            self._line_deadline = time.monotonic() + self.request_timeout
        deadline = self._line_deadline if self._line_deadline is not None else idle_deadline
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the request line did not arrive in time")
        self._conn.settimeout(remaining)
        chunk = self._conn.recv(_RECV_BYTES)
        if not chunk:
            return False
        if self._line_deadline is None:
            self._line_deadline = time.monotonic() + self.request_timeout
        self._buffer += chunk
        return True


class RateLimitedWarning:
    """A warning logged at once, then at most once per ``interval`` with a count of the ones held back."""

    def __init__(self, logger: logging.Logger, interval: float = REFUSAL_LOG_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._log, self.interval, self._clock = logger, interval, clock
        self._lock = threading.Lock()
        self._next = float("-inf")
        self._held_back = 0

    def warn(self, message: str) -> None:
        with self._lock:
            now = self._clock()
            if now < self._next:
                self._held_back += 1
                return
            held_back, self._held_back = self._held_back, 0
            self._next = now + self.interval
        if held_back:
            message += f" ({held_back} more refused in the {self.interval:.0f} s before)"
        self._log.warning("%s", message)


def turn_away(conn: socket.socket, reply: bytes) -> None:
    """Send ``reply`` if the socket takes it at once, and close."""
    with contextlib.suppress(OSError):
        conn.setblocking(False)
        conn.send(reply)
    conn.close()


def make_socket_dir(directory: Path, group: str) -> None:
    """The socket's directory, when it has to be made: 0750 and the control group's (as systemd's
    RuntimeDirectoryMode=0750 with Group=station), its missing parents 0700. An existing one is left as it is."""
    if directory.is_dir():
        return
    private_dir(directory.parent)
    with contextlib.suppress(FileExistsError):
        os.mkdir(directory, SOCKET_DIR_MODE)
    os.chmod(directory, SOCKET_DIR_MODE)
    with contextlib.suppress(KeyError, PermissionError):
        os.chown(directory, -1, grp.getgrnam(group).gr_gid)
