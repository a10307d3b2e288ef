"""The control socket: a unix socket in the runtime directory speaking versioned JSON lines.

One request per line, one reply per line::

    {"v": 1, "cmd": "status"}              → {"ok": true, "status": {…}}          (see station.status)
    {"v": 1, "cmd": "fleet"}               → {"ok": true, "fleet": {…}}           (see station.fleet)
    {"v": 1, "cmd": "subscribe"}           → {"ok": true}, then {"event": {…}} per event until the client closes,
                                             and {"heartbeat": <unix time>} after every 5 s without an event
    {"v": 1, "cmd": "pause" | "resume"}    → {"ok": true, "paused": bool}
    {"v": 1, "cmd": "retry" | "skip", "upn": "…"}   → {"ok": true, "person": {…}}
    {"v": 1, "cmd": "cancel", "slot": "…"} → {"ok": true, "cancelled": "…"}
    {"v": 1, "cmd": "keys" | "revoke_key" | "replace_key" | "handout", …}  → station.lifecycle.service
    any failure                            → {"ok": false, "error": {"reason", "message", "remedy"}}

The socket is mode 0660 and belongs to the ``station`` group when that group exists. Peers are identified
with SO_PEERCRED: root, the daemon's own user and members of the station group may control the station;
anyone else who can connect may only ask for ``status``, ``fleet``, ``subscribe`` and ``keys``. A subscriber
that does not keep up is dropped (its connection closed); the event bus is never blocked by a client.

Every connection has its own thread, and every one is bounded: a request line is at most 64 KiB (a longer
one is answered with an error and skipped, and a connection that sends more than 1 MiB without a newline is
closed), a connection that sends no request for 60 s, takes more than 10 s to send a line it has begun
(however slowly it dribbles), or does not take a reply or event within 10 s is closed. Connections are
admitted once SO_PEERCRED names the peer (``station.control_guard``): at most 64 at once, at most 8 per user
outside the control group, and the last 16 only for root, the daemon's user and the control group; a
refused client is told why and closed, and refusals are logged at most once per 10 s. Every request line
gets exactly one reply, even when answering it fails.
"""

from __future__ import annotations

import contextlib
import errno
import grp
import json
import logging
import os
import pwd
import queue
import select
import socket
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from station.control_guard import (
    MAX_CONNECTIONS,
    MAX_CONNECTIONS_PER_USER,
    PRIVILEGED_RESERVE,
    REQUEST_TIMEOUT,
    Admission,
    LineTooLong,
    RateLimitedWarning,
    RequestReader,
    make_socket_dir,
    turn_away,
)
from station.control_protocol import HEARTBEAT_SECONDS, PROTOCOL_VERSION, Controls, KeyCommands
from station.control_protocol import socket_path as socket_path
from station.errors import ControlError, NotFoundError, Reason, StationError
from station.events import Event, EventBus
from station.wire import StatusSnapshot

log = logging.getLogger(__name__)

SOCKET_MODE = 0o660
IDLE_TIMEOUT = 60.0
SEND_TIMEOUT = 10.0
SUBSCRIBER_BACKLOG = 1000
KEY_COMMANDS = frozenset({"keys", "revoke_key", "replace_key", "handout"})  # answered by station.lifecycle.service
READ_ONLY_COMMANDS = frozenset({"status", "fleet", "subscribe", "keys"})
COMMANDS = READ_ONLY_COMMANDS | {"pause", "resume", "retry", "skip", "cancel"} | KEY_COMMANDS


def error_reply(error: StationError) -> dict[str, Any]:
    return {"ok": False, "error": {"reason": str(error.reason), "message": error.message, "remedy": error.remedy}}


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, ensure_ascii=False, default=str, separators=(",", ":")).encode("utf-8") + b"\n"


class Peer:
    """Who is on the other end of a connection, and whether they may change anything."""

    def __init__(self, pid: int, uid: int, gid: int, control_gid: int | None) -> None:
        self.pid, self.uid, self.gid = pid, uid, gid
        self.may_control = uid == 0 or uid == os.geteuid() or (
            control_gid is not None and control_gid in _groups_of(pid, uid, gid))

    @classmethod
    def of(cls, conn: socket.socket, control_gid: int | None) -> Peer:
        data = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        pid, uid, gid = struct.unpack("3i", data)
        return cls(pid, uid, gid, control_gid)

    def __str__(self) -> str:
        return f"pid {self.pid} uid {self.uid}"


def _groups_of(pid: int, uid: int, gid: int) -> set[int]:
    """The peer process's groups: from /proc when visible, else from the user database."""
    groups = {gid}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Groups:"):
                groups.update(int(g) for g in line.split()[1:])
                return groups
    except OSError:
        pass
    with contextlib.suppress(KeyError):
        groups.update(os.getgrouplist(pwd.getpwuid(uid).pw_name, gid))
    return groups


def group_id(name: str) -> int | None:
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        return None


class ControlServer:
    """Serves the control protocol on ``path`` from its own threads until ``stop``."""

    def __init__(self, path: Path, *, status: Callable[[], StatusSnapshot], controls: Controls, bus: EventBus,
                 fleet: Callable[[], dict[str, Any]] | None = None, keys: KeyCommands | None = None,
                 group: str = "station", idle_timeout: float = IDLE_TIMEOUT, send_timeout: float = SEND_TIMEOUT,
                 request_timeout: float = REQUEST_TIMEOUT, max_connections: int = MAX_CONNECTIONS,
                 max_per_user: int = MAX_CONNECTIONS_PER_USER, privileged_reserve: int = PRIVILEGED_RESERVE) -> None:
        self.path = Path(path)
        self.idle_timeout = idle_timeout
        self.send_timeout = send_timeout
        self.request_timeout = request_timeout
        self._admission = Admission(max_connections, max_per_user, privileged_reserve)
        self._refusals = RateLimitedWarning(log)
        self._status = status
        self._fleet = fleet
        self._keys = keys
        self._controls = controls
        self._bus = bus
        self._group = group
        self._gid = group_id(group)
        self._sock: socket.socket | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        try:
            make_socket_dir(self.path.parent, group=self._group)
        except OSError as e:
            raise ControlError(f"cannot create the runtime directory {self.path.parent}: {e.strerror}",
                               reason=Reason.CONTROL_INVALID,
                               remedy="Set station.runtime_dir to a place the station user may write.") from None
        self._remove_stale()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        old_umask = os.umask(0o117)
        try:
            sock.bind(str(self.path))
        except OSError as e:
            sock.close()
            raise ControlError(f"cannot create the control socket {self.path}: {e.strerror}",
                               reason=Reason.CONTROL_INVALID,
                               remedy="Check that the runtime directory exists and is writable by the station "
                                      "user (station.runtime_dir).") from None
        finally:
            os.umask(old_umask)
        os.chmod(self.path, SOCKET_MODE)
        if self._gid is not None:
            try:
                os.chown(self.path, -1, self._gid)
            except PermissionError:
                log.warning("cannot give %s to group %s; only root and the station user can control it",
                            self.path, self._group)
        sock.listen(16)
        self._sock = sock
        self._stop.clear()
        self._thread = threading.Thread(target=self._accept_loop, name="control-accept", daemon=True)
        self._thread.start()
        log.info("control socket listening on %s", self.path)

    def stop(self) -> None:
        self._stop.set()
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
            self._sock.close()
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(FileNotFoundError):
            if self._sock is not None:
                self.path.unlink()
        self._sock = None

    def _remove_stale(self) -> None:
        if not self.path.exists():
            return
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(self.path))
        except OSError:
            self.path.unlink()
            return
        finally:
            probe.close()
        raise ControlError(f"another station daemon is serving {self.path}", reason=Reason.INVALID_STATE,
                           remedy="Stop the other daemon (systemctl stop station), or give this one another "
                                  "station.runtime_dir.")

    def _accept_loop(self) -> None:
        assert self._sock is not None
        listener = self._sock
        while not self._stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError as e:
                if self._stop.is_set():
                    return
                if e.errno in (errno.EMFILE, errno.ENFILE):
                    self._stop.wait(0.1)
                    continue
                log.warning("control socket accept failed: %s", e)
                continue
            try:
                peer = Peer.of(conn, self._gid)
            except OSError:
                conn.close()
                continue
            refusal = self._admission.admit(peer)
            if refusal is not None:
                self._refusals.warn(f"refusing a control connection from {peer}: {refusal.message}")
                turn_away(conn, encode(error_reply(refusal)))
                continue
            with self._lock:
                self._conns.add(conn)
            threading.Thread(target=self._serve, args=(conn, peer), name="control-client", daemon=True).start()

    # -- one connection -------------------------------------------------------------------------
    def _serve(self, conn: socket.socket, peer: Peer) -> None:
        reader = RequestReader(conn, idle_timeout=self.idle_timeout, request_timeout=self.request_timeout)
        try:
            while not self._stop.is_set():
                try:
                    line = reader.next_line()
                except LineTooLong:
                    self._send(conn, error_reply(ControlError("request longer than 64 KiB",
                                                              remedy="Send one request of at most 64 KiB per "
                                                                     "line.")))
                    if not reader.skip_line():
                        return
                    continue
                if not line:
                    return
                if not line.strip():
                    continue
                request = self._parse(line)
                if "ok" in request:
                    self._send(conn, request)
                elif request["cmd"] == "subscribe":
                    self._send(conn, {"ok": True})
                    self._stream_events(conn)
                    return
                else:
                    self._send(conn, self._answer(request, peer))
        except TimeoutError:
            log.debug("closing a control connection that stayed silent, sent a request too slowly or did not "
                      "read its reply")
        except OSError:
            return
        except Exception:
            log.exception("control connection failed")
        finally:
            with self._lock:
                self._conns.discard(conn)
            self._admission.release(peer)
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                conn.close()

    def _send(self, conn: socket.socket, message: dict[str, Any]) -> None:
        """Send one reply line; a reply that cannot be encoded becomes an error reply (never silence)."""
        try:
            data = encode(message)
        except (TypeError, ValueError, RecursionError) as e:
            log.error("control reply could not be encoded: %s", e)
            data = encode(error_reply(StationError(f"the reply could not be encoded: {type(e).__name__}")))
        conn.settimeout(self.send_timeout)
        conn.sendall(data)
        conn.settimeout(self.idle_timeout)

    def _parse(self, line: bytes) -> dict[str, Any]:
        """The request, or (carrying "ok": false) the error reply to a line that is not a valid request."""
        try:
            request = json.loads(line)
        except (ValueError, UnicodeDecodeError) as e:
            return error_reply(ControlError(f"not JSON: {e}"))
        except RecursionError:
            return error_reply(ControlError("not JSON this daemon reads: nested too deeply"))
        if not isinstance(request, dict):
            return error_reply(ControlError("a request is a JSON object"))
        if request.get("v") != PROTOCOL_VERSION:
            return error_reply(ControlError(
                f"unsupported protocol version {request.get('v')!r}; this daemon speaks v{PROTOCOL_VERSION}",
                remedy="Use a station client of the same version as the daemon."))
        cmd = request.get("cmd")
        if not isinstance(cmd, str) or cmd not in COMMANDS:
            return error_reply(ControlError(f"unknown command {cmd!r}",
                                            remedy=f"Use one of: {', '.join(sorted(COMMANDS))}."))
        request.pop("ok", None)
        return request

    def check_allowed(self, cmd: str, peer: Peer) -> None:
        if cmd not in READ_ONLY_COMMANDS and not peer.may_control:
            raise ControlError(f"{peer} may only read the status", reason=Reason.CONTROL_DENIED,
                               remedy=f"Run as root or as a member of the '{self._group}' group.")

    def _answer(self, request: dict[str, Any], peer: Peer) -> dict[str, Any]:
        cmd = str(request["cmd"])
        try:
            self.check_allowed(cmd, peer)
            return self._dispatch(cmd, request, peer)
        except StationError as e:
            return error_reply(e)
        except Exception as e:
            log.exception("control command %s failed", cmd)
            return error_reply(StationError(f"{cmd} failed: {type(e).__name__}: {e}"))

    def _dispatch(self, cmd: str, request: dict[str, Any], peer: Peer) -> dict[str, Any]:
        c = self._controls
        if cmd == "status":
            return {"ok": True, "status": self._status()}
        if cmd == "fleet":
            if self._fleet is None:
                raise ControlError("this daemon keeps no fleet view",
                                   remedy="Run 'station fleet' where the station's store is reachable.")
            return {"ok": True, "fleet": self._fleet()}
        if cmd == "pause":
            c.pause_intake()
            log.info("intake paused from the control socket (%s)", peer)
            return {"ok": True, "paused": True}
        if cmd == "resume":
            c.resume_intake()
            log.info("intake resumed from the control socket (%s)", peer)
            return {"ok": True, "paused": False}
        if cmd in KEY_COMMANDS:
            if self._keys is None:
                raise ControlError("this daemon keeps no key inventory", remedy="Use 'station keys' on the station.")
            if cmd != "keys":
                log.info("%s from the control socket (%s)", cmd, peer)
            return self._keys.handle(cmd, request)
        if cmd in ("retry", "skip"):
            upn = _text_arg(request, "upn")
            person = c.retry_person(upn) if cmd == "retry" else c.skip_person(upn)
            log.info("%s %s from the control socket (%s)", cmd, upn, peer)
            return {"ok": True, "person": person.to_dict() if hasattr(person, "to_dict") else person}
        slot = _text_arg(request, "slot")
        if not c.cancel_slot(slot):
            raise NotFoundError(f"no enrolment is running in {slot!r}",
                                remedy="Check the slot name in 'station status'.")
        log.info("enrolment in %s cancelled from the control socket (%s)", slot, peer)
        return {"ok": True, "cancelled": slot}

    # -- subscriptions --------------------------------------------------------------------------
    def _stream_events(self, conn: socket.socket) -> None:
        backlog: queue.Queue[Event] = queue.Queue(SUBSCRIBER_BACKLOG)
        dropped = threading.Event()

        def on_event(event: Event) -> None:
            if dropped.is_set():
                return
            try:
                backlog.put_nowait(event)
            except queue.Full:
                dropped.set()
                log.warning("dropping a control subscriber that does not keep up")
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)

        unsubscribe = self._bus.subscribe(on_event)
        last_sent = time.monotonic()
        try:
            while not self._stop.is_set() and not dropped.is_set():
                try:
                    event = backlog.get(timeout=0.5)
                except queue.Empty:
                    if _peer_closed(conn):
                        return
                    if time.monotonic() - last_sent >= HEARTBEAT_SECONDS:
                        self._send(conn, {"heartbeat": time.time()})
                        last_sent = time.monotonic()
                    continue
                self._send(conn, {"event": event.to_dict()})
                last_sent = time.monotonic()
        except TimeoutError:
            log.warning("dropping a control subscriber that stopped reading")
        finally:
            unsubscribe()


def _text_arg(request: dict[str, Any], name: str) -> str:
    value = request.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ControlError(f"{request.get('cmd')} needs \"{name}\": a non-empty string")
    return value.strip()


def _peer_closed(conn: socket.socket) -> bool:
    ready, _, _ = select.select([conn], [], [], 0)
    if not ready:
        return False
    try:
        return conn.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
