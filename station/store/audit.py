"""The append-only audit log. Details are JSON; callers never pass secrets."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, col, select

from station.store.models import AuditEvent, now

# A plain INSERT: a session records about five events per enrolment, and an ORM unit of work for each
# cost several times the write itself.
_INSERT = text(f"INSERT INTO {AuditEvent.__tablename__} (at, station_id, person_id, enrolment_id, kind, detail) "
               "VALUES (:at, :station_id, :person_id, :enrolment_id, :kind, :detail)")


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: float
    station_id: str
    person_id: int | None
    enrolment_id: int | None
    kind: str
    detail: dict[str, Any]


def insert_entry(conn: Connection, *, station_id: str, kind: str, person_id: int | None, enrolment_id: int | None,
                 detail: Mapping[str, Any]) -> None:
    """One audit row, written on ``conn`` (in the caller's transaction: the journal writes a step's audit entry
    in the step's own transaction)."""
    conn.execute(_INSERT, {"at": now(), "station_id": station_id, "person_id": person_id,
                           "enrolment_id": enrolment_id, "kind": kind,
                           "detail": json.dumps(dict(detail), default=str, ensure_ascii=False)})


class Audit:
    def __init__(self, engine: Engine, station_id: str = "") -> None:
        self.engine = engine
        self.station_id = station_id

    def record(self, kind: str, *, person_id: int | None = None, enrolment_id: int | None = None,
               **detail: Any) -> None:
        with self.engine.begin() as conn:
            insert_entry(conn, station_id=self.station_id, kind=kind, person_id=person_id,
                         enrolment_id=enrolment_id, detail=detail)

    def entries(self, *, enrolment_id: int | None = None, person_id: int | None = None,
                limit: int | None = None) -> list[AuditEntry]:
        with Session(self.engine) as s:
            q = select(AuditEvent).order_by(col(AuditEvent.id))
            if enrolment_id is not None:
                q = q.where(AuditEvent.enrolment_id == enrolment_id)
            if person_id is not None:
                q = q.where(AuditEvent.person_id == person_id)
            if limit:
                q = q.limit(limit)
            return [
                AuditEntry(e.id or 0, e.at, e.station_id, e.person_id, e.enrolment_id, e.kind, json.loads(e.detail))
                for e in s.exec(q).all()
            ]
