"""The enrolment journal: one row per key-for-person attempt, advanced step by step (write-ahead)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import or_, text
from sqlalchemy.engine import Connection, Engine, RowMapping
from sqlmodel import Session, col, select

from station.errors import NotFoundError
from station.store.audit import insert_entry
from station.store.inventory import Inventory, record_enrolled
from station.store.models import TERMINAL_JOURNAL_STATES, Enrolment, JournalState, now

_WRITABLE = {
    "slot", "transport", "key_fingerprint", "aaguid", "model", "state", "credential_id", "attestation_object",
    "client_data_json", "display_name", "method_id", "pin_escrow", "error_reason", "error_message", "lease_expires",
    "unresolved", "next_check_at", "pin_rules", "key_serial", "firmware",
}


@dataclass(frozen=True)
class JournalRow:
    """A detached copy of an Enrolment row."""

    id: int
    person_id: int
    station_id: str
    slot: str
    transport: str
    key_fingerprint: str
    aaguid: str
    model: str
    state: str
    credential_id: str | None
    attestation_object: str | None
    client_data_json: str | None
    display_name: str | None
    method_id: str | None
    pin_escrow: str | None
    error_reason: str | None
    error_message: str | None
    lease_expires: float | None
    unresolved: str | None
    checks: int
    next_check_at: float | None
    pin_rules: str | None
    key_serial: str | None
    firmware: str | None
    created_at: float
    updated_at: float

    @classmethod
    def of(cls, e: Enrolment) -> JournalRow:
        return cls(**{f: getattr(e, f) for f in cls.__dataclass_fields__})

    def to_dict(self, *, with_escrow: bool = False) -> dict[str, Any]:
        d = asdict(self)
        d.pop("attestation_object")
        d.pop("client_data_json")
        if not with_escrow:
            d["pin_escrow"] = "sealed" if self.pin_escrow else None
        return d


AuditNote = tuple[str, Mapping[str, Any]]
"""An audit entry a journal write carries: its kind and its detail (never a secret)."""


def _write_audit(conn: Connection, row: RowMapping, notes: Sequence[AuditNote]) -> None:
    for kind, detail in notes:
        insert_entry(conn, station_id=row["station_id"], kind=kind, person_id=row["person_id"],
                     enrolment_id=row["id"], detail=detail)


class Journal:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.keys = Inventory(engine)  # the keys its finished rows enrolled, and what became of them

    def open(self, person_id: int, station_id: str, *, audit: Sequence[AuditNote] = (), **fields: Any) -> JournalRow:
        """A new row (the model's defaults for the rest), written by one ``INSERT … RETURNING``, with the audit
        entries ``audit`` names in the same transaction."""
        _check(fields)
        values = Enrolment(person_id=person_id, station_id=station_id, **fields).model_dump(exclude={"id"})
        statement = text(f"INSERT INTO {Enrolment.__tablename__} ({', '.join(values)}) "
                         f"VALUES ({', '.join(':' + name for name in values)}) RETURNING {_ROW_COLUMNS}")
        with self.engine.begin() as conn:
            row = conn.execute(statement, values).mappings().one()
            _write_audit(conn, row, audit)
        return JournalRow(**row)

    def advance(self, enrolment_id: int, state: JournalState | None = None, *, audit: Sequence[AuditNote] = (),
                **fields: Any) -> JournalRow:
        """Persist a step's outcome (and optionally the new state) in one committed write; reaching ``done``
        adds the key to the inventory in that same transaction, and the audit entries ``audit`` names (kind and
        detail) are written in it too: one commit, one fsync, per step.

        One ``UPDATE … RETURNING`` statement rather than an ORM load-modify-refresh: a session writes
        this six times per enrolment, and the ORM round made it most of the station's CPU per enrolment.
        Column names come from the ``_WRITABLE`` allow-list only; every value is a bound parameter.
        """
        _check(fields)
        values = dict(fields)
        if state is not None:
            values["state"] = state.value
        values["updated_at"] = now()
        assignments = ", ".join(f"{name} = :{name}" for name in values)
        statement = text(f"UPDATE {Enrolment.__tablename__} SET {assignments} WHERE id = :enrolment_id "
                         f"RETURNING {_ROW_COLUMNS}")
        with self.engine.begin() as conn:
            row = conn.execute(statement, {**values, "enrolment_id": enrolment_id}).mappings().first()
            if row is not None and state is JournalState.DONE and row["method_id"]:
                record_enrolled(conn, dict(row), values["updated_at"])  # the inventory, in the same transaction
            if row is not None:
                _write_audit(conn, row, audit)
        if row is None:
            raise NotFoundError(f"no enrolment {enrolment_id}")
        return JournalRow(**row)

    def check_failed(self, enrolment_id: int, why: str, next_check_at: float, *, station_id: str,
                     lease_expires: float) -> JournalRow:
        """Record that Entra could not tell this row's outcome: why, one more failed check, when to ask again;
        the row goes to ``station_id`` with ``lease_expires`` (handed back: nobody works on it meanwhile)."""
        statement = text(f"UPDATE {Enrolment.__tablename__} SET unresolved = :why, checks = checks + 1, "
                         "next_check_at = :next_at, station_id = :station, lease_expires = :lease, "
                         f"updated_at = :at WHERE id = :enrolment_id RETURNING {_ROW_COLUMNS}")
        with self.engine.begin() as conn:
            row = conn.execute(statement, {"why": why[:2048], "next_at": next_check_at, "station": station_id,
                                           "lease": lease_expires, "at": now(),
                                           "enrolment_id": enrolment_id}).mappings().first()
        if row is None:
            raise NotFoundError(f"no enrolment {enrolment_id}")
        return JournalRow(**row)

    def unresolved_rows(self) -> list[JournalRow]:
        """Unfinished rows whose Entra outcome is not known yet (of every station)."""
        with Session(self.engine) as s:
            q = select(Enrolment).where(col(Enrolment.state).not_in(TERMINAL_JOURNAL_STATES),
                                        col(Enrolment.unresolved).is_not(None))
            return [JournalRow.of(r) for r in s.exec(q.order_by(col(Enrolment.id))).all()]

    def get(self, enrolment_id: int) -> JournalRow | None:
        with Session(self.engine) as s:
            row = s.get(Enrolment, enrolment_id)
            return JournalRow.of(row) if row else None

    def unfinished(self, station_id: str | None = None, stale_before: float | None = None) -> list[JournalRow]:
        """Non-terminal rows: this station's own, or anyone's whose lease expired before ``stale_before``."""
        with Session(self.engine) as s:
            q = select(Enrolment).where(col(Enrolment.state).not_in(TERMINAL_JOURNAL_STATES))
            if station_id is not None and stale_before is not None:
                q = q.where(or_(col(Enrolment.station_id) == station_id, col(Enrolment.lease_expires) < stale_before))
            elif station_id is not None:
                q = q.where(Enrolment.station_id == station_id)
            elif stale_before is not None:
                q = q.where(col(Enrolment.lease_expires) < stale_before)
            return [JournalRow.of(r) for r in s.exec(q.order_by(col(Enrolment.id))).all()]

    def take_over(self, enrolment_id: int, station_id: str, lease_expires: float, expected_lease: float | None) -> bool:
        """Move a stale unfinished row to this station (compare-and-set on its lease, so only one station wins;
        a row that reached a terminal state meanwhile is left alone)."""
        with Session(self.engine) as s:
            q = select(Enrolment).where(Enrolment.id == enrolment_id).with_for_update(skip_locked=True)
            row = s.exec(q).first()
            if row is None or row.lease_expires != expected_lease or row.state in TERMINAL_JOURNAL_STATES:
                s.rollback()
                return False
            row.station_id = station_id
            row.lease_expires = lease_expires
            row.updated_at = now()
            s.add(row)
            s.commit()
            return True

    def renew_lease(self, enrolment_id: int, station_id: str, lease_expires: float) -> bool:
        """Extend this station's lease on an unfinished row; False when another station has adopted it."""
        with Session(self.engine) as s:
            q = select(Enrolment).where(Enrolment.id == enrolment_id).with_for_update()
            row = s.exec(q).first()
            if row is None or row.station_id != station_id or row.state in TERMINAL_JOURNAL_STATES:
                s.rollback()
                return False
            row.lease_expires = lease_expires
            s.add(row)
            s.commit()
            return True

    def for_person(self, person_id: int) -> list[JournalRow]:
        with Session(self.engine) as s:
            q = select(Enrolment).where(Enrolment.person_id == person_id).order_by(col(Enrolment.id))
            return [JournalRow.of(r) for r in s.exec(q).all()]

    def with_escrow(self) -> list[JournalRow]:
        with Session(self.engine) as s:
            q = select(Enrolment).where(col(Enrolment.pin_escrow).is_not(None)).order_by(col(Enrolment.id))
            return [JournalRow.of(r) for r in s.exec(q).all()]

    def recently_done(self, aaguid: str, since: float, limit: int) -> list[JournalRow]:
        """Done rows of keys of this model (AAGUID) with a credential, finished at or after ``since``; newest first."""
        with Session(self.engine) as s:
            q = select(Enrolment).where(Enrolment.state == JournalState.DONE.value, Enrolment.aaguid == aaguid,
                                        col(Enrolment.credential_id).is_not(None),
                                        col(Enrolment.updated_at) >= since)
            return [JournalRow.of(r) for r in s.exec(q.order_by(col(Enrolment.id).desc()).limit(limit)).all()]

    def count_done_since(self, since: float) -> int:
        with Session(self.engine) as s:
            q = select(Enrolment.id).where(Enrolment.state == JournalState.DONE.value,
                                           col(Enrolment.updated_at) >= since)
            return len(s.exec(q).all())

    def count_ended_since(self, states: list[JournalState], since: float) -> int:
        """Rows that reached one of ``states`` (last updated) at or after ``since``."""
        with Session(self.engine) as s:
            q = select(Enrolment.id).where(col(Enrolment.state).in_([st.value for st in states]),
                                           col(Enrolment.updated_at) >= since)
            return len(s.exec(q).all())


_ROW_COLUMNS = ", ".join(JournalRow.__dataclass_fields__)


def _check(fields: dict[str, Any]) -> None:
    unknown = set(fields) - _WRITABLE
    if unknown:
        raise ValueError(f"not journal fields: {sorted(unknown)}")
