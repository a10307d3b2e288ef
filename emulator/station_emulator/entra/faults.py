"""Faults injected into Graph calls: random throttling and 503s, latency, scripted failures, lost responses.

Random faults use their own seeded generator so that a run is reproducible. Scripted faults
(:meth:`FaultControl.inject`, :meth:`FaultControl.lose_next_response`) match a method and a path regex
and fire a given number of times. Token revocation lives in the token issuer; the emulator exposes it here
as :meth:`FaultControl.revoke_tokens`, and the app's client secret can be rotated
(:meth:`FaultControl.rotate_secret`: the old secret and every token issued with it stop working), so all
fault controls are in one place.
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from station_emulator.entra.protocol import GraphError


@dataclass
class ScriptedFault:
    method: str | None
    path: re.Pattern[str] | None
    remaining: int
    status: int = 0  # 0: a lost response
    retry_after: int | None = None
    after: int = 0  # matching calls let through first

    def matches(self, method: str, path: str) -> bool:
        return ((self.method is None or self.method.upper() == method.upper())
                and (self.path is None or self.path.search(path) is not None))


def _status_error(status: int, retry_after: int | None) -> GraphError:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    if status == 429:
        return GraphError(429, "TooManyRequests", "Too many requests. Please try again later.", headers=headers)
    if status == 503:
        return GraphError(503, "serviceNotAvailable",
                          "The service is temporarily unavailable. Please try again later.", headers=headers)
    if status == 403:
        return GraphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.",
                          headers=headers)
    if status == 504:
        return GraphError(504, "gatewayTimeout", "The gateway did not receive a timely response.", headers=headers)
    return GraphError(status, "generalException", "An unexpected error occurred.", headers=headers)


class FaultControl:
    def __init__(self, *, seed: int, throttle_rate: float = 0.0, error_rate: float = 0.0,
                 latency_ms: float = 0.0, retry_after: int = 1, revoke: Callable[[], int] | None = None,
                 rotate: Callable[[], str] | None = None):
        self.throttle_rate = throttle_rate
        self.error_rate = error_rate
        self.latency_ms = latency_ms
        self.retry_after = retry_after
        self._revoke = revoke
        self._rotate = rotate
        self._rng = random.Random(seed ^ 0x5EED)
        self._lock = threading.Lock()
        self._scripted: list[ScriptedFault] = []

    def inject(self, status: int, *, count: int = 1, path: str | None = None, method: str | None = None,
               retry_after: int | None = None, after: int = 0) -> None:
        """Answer the next ``count`` matching Graph calls with ``status`` (429, 503, 504, 403, 500…), once
        ``after`` of them were answered as usual (``after=2``: the third page of a listing fails)."""
        with self._lock:
            self._scripted.append(ScriptedFault(method, re.compile(path) if path else None, count,
                                                status, retry_after, after))

    def lose_next_response(self, path: str | None = None, method: str | None = None, *, count: int = 1) -> None:
        """Process the next matching call (commit its change) and drop the connection without answering."""
        with self._lock:
            self._scripted.append(ScriptedFault(method, re.compile(path) if path else None, count))

    def revoke_tokens(self) -> int:
        """Revoke every access token issued so far: their next Graph call answers 401."""
        return self._revoke() if self._revoke else 0

    def rotate_secret(self) -> str:
        """Replace the app's client secret (as an administrator does when it expires); returns the new one."""
        if self._rotate is None:
            raise RuntimeError("this emulator cannot rotate its client secret")
        return self._rotate()

    def clear(self) -> None:
        with self._lock:
            self._scripted.clear()
            self.throttle_rate = self.error_rate = self.latency_ms = 0.0

    def settings(self) -> dict[str, Any]:
        with self._lock:
            return {"throttle_rate": self.throttle_rate, "error_rate": self.error_rate,
                    "latency_ms": self.latency_ms, "retry_after": self.retry_after,
                    "scripted": [{"method": f.method, "path": f.path.pattern if f.path else None,
                                  "remaining": f.remaining, "status": f.status or "lost"}
                                 for f in self._scripted]}

    def update(self, settings: dict[str, Any]) -> None:
        with self._lock:
            for name in ("throttle_rate", "error_rate", "latency_ms"):
                if name in settings:
                    setattr(self, name, float(settings[name]))
            if "retry_after" in settings:
                self.retry_after = int(settings["retry_after"])

    # used by the server

    def before(self, method: str, path: str) -> tuple[GraphError | None, bool]:
        """Decide this call's fate: (an error to answer instead, whether to lose the response)."""
        with self._lock:
            for fault in self._scripted:
                if fault.matches(method, path):
                    if fault.after > 0:
                        fault.after -= 1
                        continue
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._scripted.remove(fault)
                    if fault.status == 0:
                        return None, True
                    return _status_error(fault.status, fault.retry_after), False
            roll = self._rng.random()
            if roll < self.throttle_rate:
                return _status_error(429, self.retry_after), False
            if roll < self.throttle_rate + self.error_rate:
                return _status_error(503, self.retry_after), False
            return None, False
