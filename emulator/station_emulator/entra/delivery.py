"""How the next matching answers are delivered: the emulator playing a hostile or broken server.

``DeliveryControl.shape(...)`` changes the next ``count`` answers to Graph or sign-in calls (not the
emulator's own control endpoints) matching a method and a path regex:

- ``redirect_to``: answer 307 with this Location instead of processing the call;
- ``drip_seconds``: send the status line, headers and body one byte every ``drip_seconds`` seconds;
- ``pad_bytes``: grow the JSON body by this many bytes (a ``_padding`` member);
- ``chunked``: send the body in chunks, without a Content-Length;
- ``rp_id``: creation options name this relying party instead of login.microsoft.com.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, NamedTuple

from station_emulator.entra.protocol import Response

CHUNK_BYTES = 64 * 1024


@dataclass
class Shape:
    method: str | None
    path: re.Pattern[str] | None
    remaining: int
    redirect_to: str | None = None
    drip_seconds: float = 0.0
    pad_bytes: int = 0
    chunked: bool = False
    rp_id: str | None = None

    def matches(self, method: str, path: str) -> bool:
        return ((self.method is None or self.method.upper() == method.upper())
                and (self.path is None or self.path.search(path) is not None))

    def reshape(self, response: Response) -> None:
        """Apply the body changes (padding, relying party) to a JSON object answer."""
        body = response.body
        if not isinstance(body, dict):
            return
        public_key = body.get("publicKey")
        if self.rp_id is not None and isinstance(public_key, dict) and isinstance(public_key.get("rp"), dict):
            public_key["rp"] = {**public_key["rp"], "id": self.rp_id}
        if self.pad_bytes:
            body["_padding"] = "x" * self.pad_bytes


class Answer(NamedTuple):
    """One encoded answer and how it is to be written."""

    status: int
    headers: dict[str, str]
    payload: bytes
    drip_seconds: float = 0.0
    chunked: bool = False


class DeliveryControl:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._shapes: list[Shape] = []

    def shape(self, *, count: int = 1, path: str | None = None, method: str | None = None,
              **change: Any) -> None:
        """Deliver the next ``count`` matching answers changed as ``change`` says (see the module docstring)."""
        with self._lock:
            self._shapes.append(Shape(method, re.compile(path) if path else None, count, **change))

    def take(self, method: str, path: str) -> Shape | None:
        with self._lock:
            for shape in self._shapes:
                if shape.matches(method, path):
                    shape.remaining -= 1
                    if shape.remaining <= 0:
                        self._shapes.remove(shape)
                    return shape
        return None

    def clear(self) -> None:
        with self._lock:
            self._shapes.clear()


def write_answer(connection: socket.socket, head: bytes, answer: Answer) -> None:
    """Write ``head`` (status line and headers) and the body as ``answer`` says; a client that hangs up
    ends the writing quietly."""
    body = answer.payload
    if answer.chunked:
        body = b"".join(b"%x\r\n%s\r\n" % (len(part), part)
                        for part in (body[i:i + CHUNK_BYTES] for i in range(0, len(body), CHUNK_BYTES)))
        body += b"0\r\n\r\n"
    data = head + body
    try:
        if not answer.drip_seconds:
            connection.sendall(data)
            return
        for i in range(len(data)):
            connection.sendall(data[i:i + 1])
            time.sleep(answer.drip_seconds)
    except OSError:
        return
