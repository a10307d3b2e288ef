"""The report's figures for a date range, in the station's local time.

Enrolled people: a person counts once, on the day and at the station of their first finished enrolment
(journal state ``done``). The cumulative chart counts every person enrolled by the end of each day (earlier
than the range too) against the people in the rollout by then (queued at or before that day, skipped people
left out). Failures are the enrolment attempts that ended failed, needing a reset or abandoned in the range;
refusals the keys refused at insertion (the audit trail's ``key_rejected``). Time per key runs from the claim
of the person to done. Queue totals are the people by state now, as ``station queue list`` counts them;
keys handed out for self-activation (``delegated``) are counted apart, by the hand-out's state now.
"""

from __future__ import annotations

import math
import statistics
import time as clock
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Final

from station.enroll.reasons import remedy_for
from station.report.rows import EnrolmentRow, PersonRow, Rows
from station.states import JournalState, PersonState
from station.store.handouts import HandoutState

FAILED_ENDS: Final = frozenset({JournalState.FAILED.value, JournalState.NEEDS_RESET.value,
                                JournalState.ABANDONED.value})
WAITING: Final = (PersonState.QUEUED.value, PersonState.CLAIMED.value)
# Keys handed out for self-activation, counted apart (station handout): waiting, registered, TAP run out.
DELEGATED: Final = (HandoutState.HANDED_OUT.value, HandoutState.ACTIVE.value, HandoutState.EXPIRED.value)


@dataclass(frozen=True)
class DateRange:
    since: date
    until: date  # inclusive

    @property
    def start(self) -> float:
        return datetime.combine(self.since, time()).timestamp()

    @property
    def end(self) -> float:
        return datetime.combine(self.until + timedelta(days=1), time()).timestamp()

    def days(self) -> list[date]:
        return [self.since + timedelta(days=i) for i in range((self.until - self.since).days + 1)]

    def bounds(self) -> list[float]:
        """Each day's local midnight, then the end: a time's day is found by bisection (DST-proof, and far
        cheaper than a datetime per row)."""
        return [datetime.combine(d, time()).timestamp() for d in self.days()] + [self.end]


@dataclass
class Report:
    since: str
    until: str
    timezone: str
    generated_at: str
    queue: dict[str, int]
    enrolled: int
    failed_attempts: int
    refused_keys: int
    days: list[str]
    stations: list[str]
    per_day: dict[str, list[int]]
    cumulative: list[int]
    rollout: list[int]
    failures: list[dict[str, Any]] = field(default_factory=list)
    refusals: list[dict[str, Any]] = field(default_factory=list)
    timing: list[dict[str, Any]] = field(default_factory=list)
    models: list[dict[str, Any]] = field(default_factory=list)
    waiting: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    delegated: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def default_range(rows: Rows, today: date | None = None) -> DateRange:
    """From the day of the first enrolment (today when there is none) to today."""
    today = today or date.today()
    first = min((e.created_at for e in rows.enrolments), default=None)
    since = min(today, _day(first)) if first is not None else today
    return DateRange(since, today)


def build(rows: Rows, span: DateRange) -> Report:
    start, end = span.start, span.end
    days, bounds = span.days(), span.bounds()
    done = first_done(rows.enrolments)
    in_range = {pid: e for pid, e in done.items() if start <= e.updated_at < end}

    stations = sorted({e.station_id for e in in_range.values()})
    per_day = {s: [0] * len(days) for s in stations}
    for e in in_range.values():
        per_day[e.station_id][bisect_right(bounds, e.updated_at) - 1] += 1

    ended = [e for e in rows.enrolments if e.state in FAILED_ENDS and start <= e.updated_at < end]
    failures = Counter(e.error_reason or "unknown" for e in ended)
    refusals = Counter(r.reason for r in rows.refusals)
    return Report(
        since=span.since.isoformat(), until=span.until.isoformat(), timezone=clock.strftime("%Z"),
        generated_at=datetime.now().astimezone().isoformat(timespec="seconds"),
        queue=_queue(rows.people), enrolled=len(in_range), failed_attempts=len(ended),
        refused_keys=len(rows.refusals), days=[d.isoformat() for d in days], stations=stations, per_day=per_day,
        cumulative=_running([e.updated_at for e in done.values()], bounds),
        rollout=_running([p.created_at for p in rows.people if p.state != PersonState.SKIPPED.value], bounds),
        failures=[{"reason": r, "attempts": n, "remedy": remedy_for(r)} for r, n in failures.most_common()],
        refusals=[{"reason": r, "keys": n, "remedy": remedy_for(r)} for r, n in refusals.most_common()],
        timing=_timing(in_range.values()),
        models=[{"model": m or "unknown", "keys": n}
                for m, n in Counter(e.model for e in in_range.values()).most_common()],
        waiting=[{"upn": p.upn, "display_name": p.display_name, "state": p.state,
                  "queued_on": _day(p.created_at).isoformat()} for p in rows.people if p.state in WAITING],
        failed=[{"upn": p.upn, "display_name": p.display_name, "reason": p.note.split(":", 1)[0] or "unknown",
                 "note": p.note} for p in rows.people if p.state == PersonState.FAILED.value],
        delegated={state: rows.handouts.get(state, 0) for state in DELEGATED},
    )


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile of sorted, non-empty ``values`` (``share`` 0.95 for p95)."""
    return values[max(0, math.ceil(share * len(values)) - 1)]


def _day(at: float) -> date:
    return datetime.fromtimestamp(at).date()


def first_done(enrolments: Iterable[EnrolmentRow]) -> dict[int, EnrolmentRow]:
    first: dict[int, EnrolmentRow] = {}
    for e in enrolments:
        if e.state == JournalState.DONE.value:
            seen = first.get(e.person_id)
            if seen is None or e.updated_at < seen.updated_at:
                first[e.person_id] = e
    return first


def _queue(people: Iterable[PersonRow]) -> dict[str, int]:
    counts = {s.value: 0 for s in PersonState}
    counts.update(Counter(p.state for p in people))
    return counts


def _running(times: list[float], bounds: list[float]) -> list[int]:
    """For each day (``bounds``: its midnights, then the end), how many of ``times`` are before its end."""
    per_day = [0] * (len(bounds) - 1)
    total = 0
    for at in times:
        i = bisect_right(bounds, at) - 1
        if i < 0:
            total += 1
        elif i < len(per_day):
            per_day[i] += 1
    out = []
    for n in per_day:
        total += n
        out.append(total)
    return out


def _timing(done: Iterable[EnrolmentRow]) -> list[dict[str, Any]]:
    seconds: dict[str, list[float]] = defaultdict(list)
    for e in done:
        seconds[e.station_id].append(max(0.0, e.updated_at - e.created_at))
    out = []
    for station in sorted(seconds):
        values = sorted(seconds[station])
        out.append({"station": station, "keys": len(values), "median_seconds": round(statistics.median(values), 1),
                    "p95_seconds": round(percentile(values, 0.95), 1)})
    return out
