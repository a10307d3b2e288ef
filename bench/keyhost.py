"""A process that hosts virtual security keys for the benchmarks, so the keys' CPU time is not the station's.

``python -m bench.keyhost --socket PATH [--latency CMD=SECONDS ...] [--touch-after SECONDS]`` listens on a
unix SOCK_SEQPACKET socket. Every accepted connection is one fresh key plugged in: the host answers with
one hello message (JSON: serial, product name), then carries CTAPHID reports, one 64-byte report per
message each way, exactly as a hidraw node does. Closing the connection unplugs the key.
:class:`bench.remote_keys.RemoteKeys` is the station side of that link.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

from fido2 import cbor
from fido2.ctap import STATUS, CtapError

from station_emulator.key import Finger, VirtualKey
from station_emulator.key.ctaphid import CtapHidResponder

log = logging.getLogger(__name__)

REPORT_SIZE = 64
KEEPALIVE_INTERVAL = 0.1
CLIENT_PIN = 0x06
#: Key operations a latency can be given to: (CTAP2 command byte, clientPIN sub-command or None).
OPERATIONS: dict[str, tuple[int, int | None]] = {
    "makeCredential": (0x01, None),
    "getAssertion": (0x02, None),
    "getInfo": (0x04, None),
    "getKeyAgreement": (CLIENT_PIN, 0x02),
    "setPIN": (CLIENT_PIN, 0x03),
    "changePIN": (CLIENT_PIN, 0x04),
    "getPinToken": (CLIENT_PIN, 0x09),
    "authenticatorConfig": (0x0D, None),
}


class SlowKey(VirtualKey):
    """A virtual key that takes ``latency[operation]`` extra seconds per operation, sending keepalive
    PROCESSING meanwhile as a real key does. Unlike :class:`Faults` latency (per command byte), this
    tells clientPIN sub-commands apart: a real key spends its time in setPIN, not in getKeyAgreement."""

    def __init__(self, latency: dict[str, float], **kw: object) -> None:
        super().__init__("fido21", **kw)  # type: ignore[arg-type]
        self.latency = {OPERATIONS[name]: seconds for name, seconds in latency.items()}

    def process_cbor(self, request: bytes, *, keepalive: Callable[[int], None],
                     cancel: threading.Event) -> bytes:
        delay = self.latency.get(_operation(request), 0.0)
        if delay > 0:
            deadline = time.monotonic() + delay
            while (left := deadline - time.monotonic()) > 0:
                keepalive(STATUS.PROCESSING)
                if cancel.wait(min(KEEPALIVE_INTERVAL, left)):
                    return bytes([CtapError.ERR.KEEPALIVE_CANCEL])
        return super().process_cbor(request, keepalive=keepalive, cancel=cancel)


def _operation(request: bytes) -> tuple[int, int | None]:
    command = request[0] if request else -1
    if command != CLIENT_PIN:
        return command, None
    try:
        params = cbor.decode(request[1:])
    except Exception:
        return command, None
    return command, params.get(0x02) if isinstance(params, dict) else None


def _serve_key(conn: socket.socket, latency: dict[str, float], touch_after: float) -> None:
    key = SlowKey(latency, finger=Finger.after(touch_after))
    responder = CtapHidResponder(key)
    conn.send(json.dumps({"serial": key.serial, "name": key.profile_spec.product_name}).encode())

    def pump() -> None:
        while not responder.closed:
            packet = responder.read_packet(timeout=0.05)
            if packet is None:
                continue
            try:
                conn.send(packet)
            except OSError:
                return

    writer = threading.Thread(target=pump, name=f"key {key.serial} out", daemon=True)
    writer.start()
    try:
        while True:
            report = conn.recv(REPORT_SIZE)
            if not report:
                break
            responder.write_packet(report)
    except OSError:
        pass
    finally:
        key.removed.set()
        responder.close()
        writer.join(1.0)
        conn.close()


def serve(path: Path, latency: dict[str, float], touch_after: float, stop: threading.Event) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as listener:
        listener.bind(str(path))
        listener.listen(64)
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            conn.settimeout(None)
            threading.Thread(target=_serve_key, args=(conn, latency, touch_after), name="key in",
                             daemon=True).start()
    path.unlink(missing_ok=True)


def _latency(text: str) -> tuple[str, float]:
    name, _, seconds = text.partition("=")
    if name.strip() not in OPERATIONS:
        raise argparse.ArgumentTypeError(f"unknown key operation {name!r}; one of {', '.join(OPERATIONS)}")
    return name.strip(), float(seconds)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.keyhost", description=__doc__)
    parser.add_argument("--socket", type=Path, required=True)
    parser.add_argument("--latency", type=_latency, action="append", default=[], metavar="CMD=SECONDS",
                        help=f"added processing time for one key operation ({', '.join(OPERATIONS)}), e.g. setPIN=0.15")
    parser.add_argument("--touch-after", type=float, default=0.0,
                        help="seconds from the touch prompt until the simulated technician touches")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    if os.path.exists(args.socket):
        args.socket.unlink()
    serve(args.socket, dict(args.latency), args.touch_after, stop)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
