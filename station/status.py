"""What the station is doing, as one snapshot: the control socket's ``status`` answer and systemd's STATUS= line.

``StatusBoard`` composes the snapshot from the engine, the store, the key watchers and ``EntraMeter``
(a meter the daemon wraps around the passkeys port: last latency, throttling, token health, last error).
``summary_line`` turns a snapshot into one line ("idle · 132 queued · 41 enrolled today"; while the store
refuses writes it starts "store not writable: disk full (/var/lib/station/station.db)").
The snapshot's shape is ``station.wire.StatusSnapshot`` (``state`` is one of STATES).

``unresolved`` lists every enrolment of the store whose outcome Entra ID could not tell yet (the person
stays claimed; ``station.unresolved``); the summary then says how many.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from station import __version__
from station.enroll.ports import PasskeysPort
from station.errors import AuthError, Reason, StationError
from station.i18n import N_, _, ngettext
from station.rollout import PACE_WINDOW, counted
from station.store import JournalState, Store
from station.store.change_stamp import ChangeStamp
from station.unresolved import unresolved
from station.wire import SNAPSHOT_VERSION, EngineSnapshot, EntraSnapshot, StationInfo, StatusSnapshot

log = logging.getLogger(__name__)

NEXT_UP = 5
THROTTLE_MEMORY_SECONDS = 60.0
STATES = ("starting", "idle", "working", "paused", "stopping", "store not writable")
FAILED_STATES = [JournalState.FAILED, JournalState.NEEDS_RESET]


class EngineView(Protocol):
    @property
    def paused(self) -> bool: ...
    def snapshot(self) -> EngineSnapshot: ...


class StatusLine(Protocol):
    def status(self) -> str: ...


class EntraMeter:
    """How Entra ID has been answering: fed by ``MeteredPasskeys`` and the daemon's token check."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.last_latency_ms: float | None = None
        self.token_ok: bool | None = None
        self.last_error: str | None = None
        self._throttled_at: float | None = None

    def succeeded(self, seconds: float) -> None:
        with self._lock:
            self.last_latency_ms = round(seconds * 1000, 1)
            self.token_ok = True

    def failed(self, error: StationError, seconds: float) -> None:
        with self._lock:
            self.last_latency_ms = round(seconds * 1000, 1)
            self.last_error = f"{error.reason}: {error.message}"
            if error.reason is Reason.GRAPH_THROTTLED:
                self._throttled_at = self._clock()
            if isinstance(error, AuthError):
                self.token_ok = False

    def token_checked(self, ok: bool, error: str | None = None) -> None:
        with self._lock:
            self.token_ok = ok
            if error:
                self.last_error = error

    def snapshot(self) -> EntraSnapshot:
        with self._lock:
            throttled = (self._throttled_at is not None
                         and self._clock() - self._throttled_at < THROTTLE_MEMORY_SECONDS)
            return {"last_latency_ms": self.last_latency_ms, "throttled": throttled, "token_ok": self.token_ok,
                    "last_error": self.last_error}


class MeteredPasskeys:
    """A PasskeysPort that times every call and reports outcomes to ``EntraMeter``."""

    def __init__(self, inner: PasskeysPort, health: EntraMeter) -> None:
        self._inner = inner
        self._health = health

    def _call(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        started = time.monotonic()
        try:
            result = fn(*args, **kw)
        except StationError as e:
            self._health.failed(e, time.monotonic() - started)
            raise
        self._health.succeeded(time.monotonic() - started)
        return result

    def creation_options(self, user_id: str) -> Any:
        return self._call(self._inner.creation_options, user_id)

    def register(self, user_id: str, display_name: str, credential_id: bytes, client_data_json: bytes,
                 attestation_object: bytes, client_extension_results: Mapping[str, Any] | None = None) -> str:
        return str(self._call(self._inner.register, user_id, display_name, credential_id, client_data_json,
                              attestation_object, client_extension_results))

    def find_method_for_credential(self, user_id: str, credential_id: bytes) -> str | None:
        found = self._call(self._inner.find_method_for_credential, user_id, credential_id)
        return None if found is None else str(found)

    def delete(self, user_id: str, method_id: str) -> bool:
        return bool(self._call(self._inner.delete, user_id, method_id))


def start_of_today(now: float | None = None) -> float:
    moment = datetime.fromtimestamp(time.time() if now is None else now)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


class StatusBoard:
    """Composes status snapshots. ``phase`` is the daemon's lifecycle phase (starting, running, stopping)."""

    def __init__(self, *, station_id: str, station_name: str, store: Store, engine: EngineView | None,
                 health: EntraMeter, watchers: Sequence[StatusLine], notes: Callable[[], list[str]] | None = None,
                 language: str = "en") -> None:
        self.station: StationInfo = {"id": station_id, "name": station_name, "version": __version__,
                                     "pid": os.getpid(), "language": language}
        self.store = store
        self.engine = engine
        self.health = health
        self.watchers = list(watchers)
        self.notes = notes or (lambda: [])
        self.phase = "starting"
        # The queue's counts are a GROUP BY over every person (≈ 50 ms at a million on SQLite): asked again only
        # when the store has changed since (ChangeStamp), not for every status request and every tick.
        self._changes = ChangeStamp(store.engine)
        self._counted: tuple[tuple[int, int, int], dict[str, int]] | None = None

    def queue_counts(self) -> dict[str, int]:
        """People per state, as ``Queue.counts`` gives them."""
        stamp = self._changes.stamp()
        if stamp is not None and self._counted is not None and self._counted[0] == stamp:
            return dict(self._counted[1])
        counts = self.store.queue.counts()
        self._counted = (stamp, dict(counts)) if stamp is not None else None
        return counts

    def snapshot(self) -> StatusSnapshot:
        engine = self.engine.snapshot() if self.engine is not None else None
        paused = bool(self.engine.paused) if self.engine is not None else False
        sessions = list(engine["sessions"]) if engine else []
        midnight = start_of_today()
        counts = self.queue_counts()
        status: StatusSnapshot = {
            "v": SNAPSHOT_VERSION,
            "station": StationInfo(**self.station),
            "state": lifecycle_state(self.phase, paused, active_sessions(sessions), self.store.health.problem),
            "store_problem": self.store.health.problem,
            "paused": paused,
            "queue": {"queued": counts.get("queued", 0), "claimed": counts.get("claimed", 0),
                      "enrolled": counts.get("enrolled", 0), "failed": counts.get("failed", 0),
                      "skipped": counts.get("skipped", 0)},
            "today": {"enrolled": self.store.journal.count_done_since(midnight),
                      "failed": self.store.journal.count_ended_since(FAILED_STATES, midnight)},
            "pace": {"window_seconds": PACE_WINDOW,
                     "enrolled": self.store.journal.count_done_since(time.time() - PACE_WINDOW)},
            "slots": sessions,
            "finished": list(engine["finished"]) if engine else [],
            "next_up": [{"upn": p.upn, "display_name": p.display_name}
                        for p in self.store.queue.peek_next(NEXT_UP)],
            "entra": self.health.snapshot(),
            "watchers": [w.status() for w in self.watchers] + self.notes(),
            "unresolved": unresolved(self.store),
            "delegated": self.store.handouts.delegated(),
            "summary": "",
        }
        status["summary"] = summary_line(status)
        return status


def active_sessions(sessions: Sequence[Mapping[str, Any]]) -> int:
    return sum(1 for s in sessions if not s.get("outcome"))


def lifecycle_state(phase: str, paused: bool, active: int, store_problem: str | None = None) -> str:
    if phase in ("starting", "stopping"):
        return phase
    if store_problem:
        return "store not writable"
    if paused:
        return "paused"
    return "working" if active else "idle"


# The states' words as the technician reads them (in the station's language).
STATE_WORDS = {"starting": N_("starting"), "stopping": N_("stopping"), "idle": N_("idle"), "working": N_("working"),
               "paused": N_("paused"), "store not writable": N_("store not writable")}


def state_word(state: str) -> str:
    """The station's ``state`` in the station's language (an unknown one as it is)."""
    return _(STATE_WORDS[state]) if state in STATE_WORDS else state


def summary_line(status: Mapping[str, Any]) -> str:
    """One line for systemd and the operator, in the station's language:
    ``working · 2 keys · 132 queued · 41 enrolled today``."""
    state = status.get("state", "?")
    parts = [str(status.get("store_problem") if state == "store not writable" else state_word(state))]
    active = active_sessions(status.get("slots", []))
    if active:
        parts.append(ngettext("{n} key", "{n} keys", active).format(n=active))
    parts.append(counted("queued", status.get("queue", {}).get("queued", 0)))
    today = status.get("today", {})
    parts.append(counted("enrolled_today", today.get("enrolled", 0)))
    if today.get("failed"):
        parts.append(counted("failed_today", today["failed"]))
    entra = status.get("entra", {})
    if entra.get("token_ok") is False:
        parts.append(_("Entra token failing"))
    elif entra.get("throttled"):
        parts.append(_("Entra throttling"))
    waiting = len(status.get("unresolved") or [])
    if waiting:
        parts.append(ngettext("{n} unresolved enrolment (station queue resolve)",
                              "{n} unresolved enrolments (station queue resolve)", waiting).format(n=waiting))
    delegated = status.get("delegated") or {}
    if any(delegated.values()):
        parts.append(_("delegated: {waiting} handed out, {active} activated, {expired} expired").format(
            waiting=delegated.get("handed_out", 0), active=delegated.get("active", 0),
            expired=delegated.get("expired", 0)))
    return " · ".join(parts)
