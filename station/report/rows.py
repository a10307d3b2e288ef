"""The rows a report is computed from, read in three queries (people, enrolments, key refusals).

Only plain columns are selected: no PIN escrow, credential id, attestation or client data ever leaves the store
here. Times are UNIX seconds, as stored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.engine import Engine

from station.store.models import AuditEvent, Enrolment, Person

REFUSAL_KIND = "key_rejected"


@dataclass(frozen=True)
class PersonRow:
    id: int
    upn: str
    display_name: str
    state: str
    note: str
    priority: int
    created_at: float


@dataclass(frozen=True)
class EnrolmentRow:
    person_id: int
    station_id: str
    state: str
    model: str
    error_reason: str
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class RefusalRow:
    at: float
    station_id: str
    reason: str


@dataclass(frozen=True)
class Rows:
    people: list[PersonRow]
    enrolments: list[EnrolmentRow]
    refusals: list[RefusalRow]


def read_rows(engine: Engine) -> Rows:
    """Every person (the queue as it stands) and every enrolment (the cumulative chart starts before the
    range); no refusals yet (``with_refusals``)."""
    p, e = Person.__table__.c, Enrolment.__table__.c  # type: ignore[attr-defined]
    with engine.connect() as conn:
        people = [PersonRow(r[0], r[1], r[2] or "", r[3], r[4] or "", r[5] or 0, r[6] or 0.0)
                  for r in conn.execute(select(p.id, p.upn, p.display_name, p.state, p.note, p.priority,
                                               p.created_at).order_by(p.priority.desc(), p.id))]
        enrolments = [EnrolmentRow(r[0], r[1], r[2], r[3] or "", r[4] or "", r[5] or 0.0, r[6] or 0.0)
                      for r in conn.execute(select(e.person_id, e.station_id, e.state, e.model, e.error_reason,
                                                   e.created_at, e.updated_at).order_by(e.id))]
    return Rows(people, enrolments, [])


def with_refusals(engine: Engine, rows: Rows, since: float, until: float) -> Rows:
    """``rows`` and the key refusals audited from ``since`` up to ``until``."""
    a = AuditEvent.__table__.c  # type: ignore[attr-defined]
    with engine.connect() as conn:
        refusals = [RefusalRow(r[0], r[1] or "", _reason(r[2]))
                    for r in conn.execute(select(a.at, a.station_id, a.detail)
                                          .where(a.kind == REFUSAL_KIND, a.at >= since, a.at < until))]
    return replace(rows, refusals=refusals)


def _reason(detail: str | None) -> str:
    try:
        data = json.loads(detail or "{}")
    except ValueError:
        return "unknown"
    reason = data.get("reason") if isinstance(data, dict) else None
    return str(reason) if reason else "unknown"
