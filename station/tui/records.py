"""The small records the dashboard's model keeps besides its key cards: Entra ID's health, a line of the event
log, a person the technician may look for."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EntraHealth:
    last_latency_ms: float | None = None
    throttled: bool = False
    token_ok: bool | None = None
    last_error: str = ""


@dataclass(frozen=True)
class LogLine:
    seq: int
    at: float
    level: str
    text: str


@dataclass(frozen=True)
class PersonRef:
    upn: str
    display_name: str
    where: str
