"""The fleet view: every station sharing one store, its slots, version, heartbeat age and liveness, and queue totals.

A running station writes a heartbeat to the station registry every few seconds (the daemon's
``HEARTBEAT_SECONDS``); one whose last heartbeat is older than ``stale_after`` is *stale* — stopped,
crashed, or cut off from the database. A station that stopped cleanly wrote a last heartbeat saying so, and
is *stopped* — never alive, however recent that heartbeat.
Stale stations' leases run out and their unfinished enrolments are adopted by a live station
(``station.enroll.reconcile``); the view also counts those unfinished rows per station.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from station.enroll.steps import step_word
from station.i18n import _
from station.rollout import PACE_WINDOW, counted, queue_line, rollout_lines
from station.store import Store
from station.text import visible

log = logging.getLogger(__name__)

STALE_AFTER_SECONDS = 60.0
STOPPED = "stopped"  # the status a station's last heartbeat carries when it stops cleanly
SLOT_FIELDS = ("slot", "transport", "step", "model", "upn", "enrolment_id")


@dataclass(frozen=True)
class StationState:
    id: str
    name: str
    host: str
    version: str
    state: str
    status: str
    heartbeat_age: float
    started_at: float
    slots: list[dict[str, Any]]
    unfinished: int

    @property
    def alive(self) -> bool:
        return self.state == "alive"


@dataclass(frozen=True)
class FleetView:
    at: float
    stale_after: float
    stations: list[StationState]
    queue: dict[str, int]
    unfinished: dict[str, int] = field(default_factory=dict)
    recent_enrolled: int = 0  # enrolments finished in the last PACE_WINDOW seconds, on every station

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def fleet_view(store: Store, *, now: float | None = None, stale_after: float = STALE_AFTER_SECONDS) -> FleetView:
    """Read the registry, the queue totals and the unfinished journal rows of every station."""
    at = time.time() if now is None else now
    unfinished: dict[str, int] = {}
    for row in store.journal.unfinished():
        unfinished[row.station_id] = unfinished.get(row.station_id, 0) + 1
    stations = []
    for rec in store.stations.all():
        age = max(0.0, at - rec.heartbeat_at)
        stations.append(StationState(
            id=rec.id, name=rec.name, host=rec.host, version=rec.version,
            state=liveness(rec.status, age, stale_after), status=rec.status, heartbeat_age=round(age, 1),
            started_at=rec.started_at, slots=[_slot(s) for s in rec.slots], unfinished=unfinished.get(rec.id, 0)))
    return FleetView(at=at, stale_after=stale_after, stations=stations, queue=store.queue.counts(),
                     unfinished=unfinished, recent_enrolled=store.journal.count_done_since(at - PACE_WINDOW))


def liveness(status: str, heartbeat_age: float, stale_after: float) -> str:
    """"stopped" (its last heartbeat said so), "alive" (a recent heartbeat) or "stale"."""
    if status == STOPPED:
        return "stopped"
    return "alive" if heartbeat_age <= stale_after else "stale"


def _slot(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {k: snapshot.get(k) for k in SLOT_FIELDS}


def format_age(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} d"


def render(view: FleetView) -> str:
    """The fleet as text: one line per station, its busy slots under it, then the queue totals (station names,
    hosts, slots and UPNs with their control characters shown as escapes)."""
    lines = []
    if not view.stations:
        lines.append(_("no station has registered with this store yet"))
    for st in view.stations:
        busy = [s for s in st.slots if s.get("slot")]
        lines.append(f"{st.id:<20} {st.state:<7}  "
                     + _("heartbeat {age} ago").format(age=format_age(st.heartbeat_age))
                     + f"  v{st.version}  {st.host}  " + _("{n} slot(s) busy").format(n=len(busy))
                     + ("  " + counted("unfinished", st.unfinished) if st.unfinished else "")
                     + (f"  — {st.status}" if st.status else ""))
        for s in busy:
            who = f"  {s['upn']}" if s.get("upn") else ""
            lines.append(f"    {s['slot']}: {step_word(str(s.get('step') or '?'))}{who}")
    q = view.queue
    lines.append(queue_line(q, ", "))
    lines += rollout_lines(q, recent_done=view.recent_enrolled, window=PACE_WINDOW, at=view.at)
    return "\n".join(visible(line) for line in lines)
