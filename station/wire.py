"""What the daemon, the control socket and the dashboard exchange: the status snapshot and its parts.

These TypedDicts are the contract; the daemon builds them (``station.status.StatusBoard``,
``station.enroll.session.Session.snapshot``), the control socket sends them as JSON unchanged, and the dashboard
and ``station status`` read them. Events travel as ``Event.to_dict()`` of the frozen dataclasses in
``station.events`` (their fields, plus ``kind``); ``station.events.event_from_dict`` reads them back.
``tests/unit/test_wire_contract.py`` holds the golden JSON of each. A field is only ever added, never renamed
or removed, within one ``SNAPSHOT_VERSION``.
"""

from __future__ import annotations

from typing import Final, TypedDict

SNAPSHOT_VERSION: Final = 1


class StationInfo(TypedDict):
    id: str
    name: str
    version: str
    pid: int
    language: str  # [station] language: `station status` and a monitoring dashboard speak it too


class QueueCounts(TypedDict):
    queued: int
    claimed: int
    enrolled: int
    failed: int
    skipped: int


class TodayCounts(TypedDict):
    enrolled: int
    failed: int


class Pace(TypedDict):
    window_seconds: float
    enrolled: int


class EntraSnapshot(TypedDict):
    """How Entra ID has been answering (``station.status.EntraMeter``)."""

    last_latency_ms: float | None
    throttled: bool
    token_ok: bool | None
    last_error: str | None


class NextUp(TypedDict):
    upn: str
    display_name: str


class UnresolvedEnrolment(TypedDict):
    enrolment_id: int
    upn: str | None
    station: str | None
    state: str
    why: str | None
    checks: int
    next_check_at: float | None


class DelegatedCounts(TypedDict):
    handed_out: int
    active: int
    expired: int


class SessionSnapshot(TypedDict):
    """One key's session: running (``outcome`` None) or the last one that ended in its slot."""

    slot: str
    transport: str
    fingerprint: str
    step: str
    model: str
    upn: str | None
    display_name: str | None
    enrolment_id: int | None
    outcome: str | None
    """None while running; then done, failed or rejected."""
    reason: str | None
    message: str | None
    remedy: str | None
    started: float
    ended: float | None


class HeldKey(TypedDict):
    slot: str
    fingerprint: str


class EngineSnapshot(TypedDict):
    """The enrolment engine's part of the status: its sessions, the keys it holds while paused, and the last
    session that ended in each slot."""

    paused: bool
    started: bool
    sessions: list[SessionSnapshot]
    held: list[HeldKey]
    finished: list[SessionSnapshot]
    prefetched: int


class StatusSnapshot(TypedDict):
    """The control socket's ``status`` answer and what the kiosk dashboard reads in-process."""

    v: int
    station: StationInfo
    state: str
    store_problem: str | None
    paused: bool
    queue: QueueCounts
    today: TodayCounts
    pace: Pace
    slots: list[SessionSnapshot]
    finished: list[SessionSnapshot]
    next_up: list[NextUp]
    entra: EntraSnapshot
    watchers: list[str]
    unresolved: list[UnresolvedEnrolment]
    delegated: DelegatedCounts
    summary: str
