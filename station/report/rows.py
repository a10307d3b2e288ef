"""The rows a report is computed from, read in four queries (people, enrolments, hand-outs by state, key
refusals).

Only plain columns are selected: no PIN escrow, credential id, attestation or client data ever leaves the store
here, nor a hand-out's sealed Temporary Access Pass. Times are UNIX seconds, as stored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Final, NamedTuple

from sqlalchemy import select
from sqlalchemy.engine import Engine

from station.store.models import AuditEvent

REFUSAL_KIND = "key_rejected"
# Read through the driver's own cursor: SQLAlchemy's Row objects were a third of the report's time on 100,000
# people. Plain SQL without parameters, the same on SQLite and PostgreSQL.
PEOPLE: Final = ("SELECT id, upn, COALESCE(display_name, ''), state, COALESCE(note, ''), COALESCE(priority, 0), "
                 "COALESCE(created_at, 0.0) FROM person ORDER BY priority DESC, id")
HANDOUTS: Final = "SELECT state, COUNT(*) FROM key_handout GROUP BY state"
ENROLMENTS: Final = ("SELECT person_id, station_id, state, COALESCE(model, ''), COALESCE(error_reason, ''), "
                     "COALESCE(created_at, 0.0), COALESCE(updated_at, 0.0) FROM enrolment ORDER BY id")


class PersonRow(NamedTuple):
    id: int
    upn: str
    display_name: str
    state: str
    note: str
    priority: int
    created_at: float


class EnrolmentRow(NamedTuple):
    person_id: int
    station_id: str
    state: str
    model: str
    error_reason: str
    created_at: float
    updated_at: float


class RefusalRow(NamedTuple):
    at: float
    station_id: str
    reason: str


@dataclass(frozen=True)
class Rows:
    people: list[PersonRow]
    enrolments: list[EnrolmentRow]
    refusals: list[RefusalRow]
    handouts: dict[str, int] = field(default_factory=dict)  # keys handed out for self-activation, by state


def read_rows(engine: Engine) -> Rows:
    """Every person (the queue as it stands) and every enrolment (the cumulative chart starts before the
    range); no refusals yet (``with_refusals``)."""
    with engine.connect() as conn:
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(PEOPLE)
            people = list(map(PersonRow._make, cursor.fetchall()))
            cursor.execute(ENROLMENTS)
            enrolments = list(map(EnrolmentRow._make, cursor.fetchall()))
            cursor.execute(HANDOUTS)
            handouts = {str(state): int(n) for state, n in cursor.fetchall()}
        finally:
            cursor.close()
    return Rows(people, enrolments, [], handouts)


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
