"""``ControlClient``: the Python side of the control socket, for ``station status`` and the dashboard.

``status()`` returns the snapshot dict, ``subscribe()`` yields event dicts (``event.to_dict()`` as the
daemon sent them) until the daemon goes away or the caller stops iterating, ``command(cmd, **args)``
sends any command and returns its reply. A refusal raises ``ControlError`` carrying the daemon's reason
and remedy; a daemon that is not running raises ``ControlError`` with reason ``daemon_unavailable``.

No read waits forever: a reply must come within ``timeout`` seconds, and a subscription that hears
nothing (the daemon sends a heartbeat every few seconds when no event happens) for ``silence`` seconds
ends with ``ControlError`` (``daemon_unavailable``), as does a connection that fails half-way or
an answer that is not JSON.
"""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from station.control_protocol import HEARTBEAT_SECONDS, PROTOCOL_VERSION
from station.errors import ControlError, Reason

CONNECT_TIMEOUT = 5.0
SUBSCRIBE_SILENCE = 4 * HEARTBEAT_SECONDS


class ControlClient:
    def __init__(self, path: str | Path, timeout: float = 30.0, silence: float = SUBSCRIBE_SILENCE) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self.silence = silence

    def _connect(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        sock.settimeout(CONNECT_TIMEOUT)
        try:
            sock.connect(str(self.path))
        except (FileNotFoundError, ConnectionRefusedError):
            sock.close()
            raise ControlError(f"no station daemon is listening on {self.path}", reason=Reason.DAEMON_UNAVAILABLE,
                               remedy="Start it (systemctl start station, or 'station run'), or point "
                                      "--config at the daemon's configuration (station.runtime_dir).") from None
        except PermissionError:
            sock.close()
            raise ControlError(f"no permission to open {self.path}", reason=Reason.CONTROL_DENIED,
                               remedy="Run as root or as a member of the 'station' group.") from None
        sock.settimeout(self.timeout)
        return sock

    def command(self, cmd: str, **args: Any) -> dict[str, Any]:
        """Send one command; its reply (``{"ok": true, …}``), or ControlError when the daemon refused it."""
        with self._connect() as sock, _talking(self.path):
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                # A daemon that turned the connection away has said why: read that.
                sock.sendall(_request(cmd, **args))
            with sock.makefile("rb") as reader:
                return _checked(_read_reply(reader))

    def status(self) -> dict[str, Any]:
        reply = self.command("status")
        status = reply.get("status")
        if not isinstance(status, dict):
            raise ControlError("the daemon's status reply holds no status")
        return status

    def subscribe(self) -> Iterator[dict[str, Any]]:
        """Events as dicts, in the order the daemon published them."""
        sock = self._connect()
        try:
            with _talking(self.path):
                sock.sendall(_request("subscribe"))
                reader = sock.makefile("rb")
                _checked(_read_reply(reader))
                sock.settimeout(self.silence)
                for line in reader:
                    message = json.loads(line)
                    if isinstance(message, dict) and isinstance(message.get("event"), dict):
                        yield message["event"]
        finally:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


@contextmanager
def _talking(path: Path) -> Iterator[None]:
    """A connection that fails half-way, goes silent or answers garbage is a ControlError, never a hang."""
    try:
        yield
    except TimeoutError:
        raise ControlError(f"the station daemon on {path} stopped answering", reason=Reason.DAEMON_UNAVAILABLE,
                           retryable=True, remedy="Look at the station log (journalctl -u station); restart "
                                                  "the daemon if it stays unresponsive.") from None
    except OSError as e:
        raise ControlError(f"the connection to the station daemon on {path} failed: {e.strerror or e}",
                           reason=Reason.DAEMON_UNAVAILABLE, retryable=True,
                           remedy="Look at the station log (journalctl -u station).") from None
    except ValueError as e:
        raise ControlError(f"the station daemon on {path} answered something that is not JSON: {e}",
                           reason=Reason.DAEMON_UNAVAILABLE,
                           remedy="Use a station client of the same version as the daemon.") from None


def _request(cmd: str, **args: Any) -> bytes:
    return json.dumps({"v": PROTOCOL_VERSION, "cmd": cmd, **args}).encode("utf-8") + b"\n"


def _read_reply(reader: Any) -> dict[str, Any]:
    line = reader.readline()
    if not line:
        raise ControlError("the daemon closed the connection without answering", reason=Reason.DAEMON_UNAVAILABLE,
                           remedy="Look at the station log (journalctl -u station).")
    reply = json.loads(line)
    if not isinstance(reply, dict):
        raise ControlError("the daemon answered something that is not a JSON object")
    return reply


def _checked(reply: dict[str, Any]) -> dict[str, Any]:
    if reply.get("ok") is True:
        return reply
    error = reply.get("error") or {}
    reason = error.get("reason", "")
    raise ControlError(str(error.get("message", "the daemon refused the request")),
                       reason=Reason(reason) if reason in Reason._value2member_map_ else Reason.INTERNAL,
                       remedy=str(error.get("remedy") or ControlError.remedy))
