"""``ControlClient``: the Python side of the control socket, for ``station status`` and the dashboard.

``status()`` returns the snapshot dict, ``subscribe()`` yields event dicts (``event.to_dict()`` as the
daemon sent them) until the daemon goes away or the caller stops iterating, ``command(cmd, **args)``
sends any command and returns its reply. A refusal raises ``ControlError`` carrying the daemon's reason
and remedy; a daemon that is not running raises ``ControlError`` with reason ``daemon_unavailable``.
"""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from station.control import PROTOCOL_VERSION
from station.errors import ControlError, Reason

CONNECT_TIMEOUT = 5.0


class ControlClient:
    def __init__(self, path: str | Path, timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.timeout = timeout

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
        with self._connect() as sock:
            sock.sendall(_request(cmd, **args))
            reader = sock.makefile("rb")
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
            sock.sendall(_request("subscribe"))
            sock.settimeout(None)
            reader = sock.makefile("rb")
            _checked(_read_reply(reader))
            for line in reader:
                message = json.loads(line)
                if isinstance(message, dict) and isinstance(message.get("event"), dict):
                    yield message["event"]
        finally:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


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
