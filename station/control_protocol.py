"""What both ends of the control socket agree on: the protocol version, the socket's name in the runtime
directory and the heartbeat interval. Kept apart from ``station.control`` (the daemon's server and its
threads) so that a client — ``station status`` — imports only this."""

from __future__ import annotations

from pathlib import Path

PROTOCOL_VERSION = 1
SOCKET_NAME = "control.sock"
HEARTBEAT_SECONDS = 5.0


def socket_path(runtime_dir: Path) -> Path:
    return Path(runtime_dir) / SOCKET_NAME
