"""Queue operations on people: add/import, pre-assign keys, claim with a lease, release, mark, retry, skip.

Order is priority (high first) then import order. A claim is one transaction: on SQLite it runs under
``BEGIN IMMEDIATE`` (atomic across processes), on PostgreSQL with ``FOR UPDATE SKIP LOCKED``. Every
read-check-write of one person (renew, release, mark, retry, skip) locks that row on PostgreSQL, so a
check cannot pass on a state another station is changing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import TextClause, bindparam, func, insert, or_, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from station.errors import ImportRejectedError, InvalidStateError, NotFoundError, StoreError
from station.store.engine import is_postgres
from station.store.models import (
    TERMINAL_JOURNAL_STATES,
    Enrolment,
    KeyAssignment,
    Person,
    PersonState,
    now,
)
from station.text import UPN_MAX, person_problems, visible

MAX_PROBLEMS_SHOWN = 20


@dataclass(frozen=True)
class NewPerson:
    upn: str
    display_name: str = ""
    object_id: str | None = None
    key_serial: str | None = None
    source: str = "manual"
    priority: int = 0


@dataclass(frozen=True)
class AddResult:
    added: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass(frozen=True)
class PersonView:
    """A detached, read-only copy of a person row, safe to hand across threads."""

    id: int
    upn: str
    display_name: str
    object_id: str | None
    state: str
    attempts: int
    priority: int
    source: str
    note: str
    lease_station: str | None
    lease_expires: float | None

    @classmethod
    def of(cls, p: Person) -> PersonView:
        assert p.id is not None
        return cls(p.id, p.upn, p.display_name, p.object_id, p.state, p.attempts, p.priority, p.source,
                   p.note, p.lease_station, p.lease_expires)

    def to_dict(self) -> dict[str, object]:
        return {
            "upn": self.upn, "display_name": self.display_name, "object_id": self.object_id,
            "state": self.state, "attempts": self.attempts, "priority": self.priority,
            "source": self.source, "note": self.note,
        }


# The hot paths (claim, peek, mark, lease renewal) are plain statements built once: composing them with the
# expression language cost more CPU per call than the database spent running them. Only column names from
# the models appear in them; every value is a bound parameter.
_PERSON = Person.__tablename__
_ASSIGNED = KeyAssignment.__tablename__
_VIEW = ", ".join(PersonView.__dataclass_fields__)
_CLAIM = (f"UPDATE {_PERSON} SET state = :claimed, lease_station = :station, lease_expires = :expires, "
          f"attempts = attempts + 1, updated_at = :at WHERE id = ({{pick}}) RETURNING {_VIEW}")
# The people pre-assigned to a key are looked up by the assignment's primary key first (almost always
# nobody): a join driven from the queue side would walk every queued person when the planner's statistics
# are stale. The next person is taken by priority, then import order (the claim walks ix_person_claim_order).
# PostgreSQL locks the row it picks and skips rows other stations are claiming; SQLite's BEGIN IMMEDIATE
# serialises whole claims instead.
_ASSIGNED_TO = text(f"SELECT person_id FROM {_ASSIGNED} WHERE key_identity IN :identities").bindparams(
    bindparam("identities", expanding=True))
_NEXT = (f"FROM {_PERSON} WHERE state = :queued AND id NOT IN (SELECT person_id FROM {_ASSIGNED}) "
         "ORDER BY priority DESC, id LIMIT :limit")


def _claim_statements(postgres: bool) -> tuple[TextClause, TextClause]:
    """(claim of one of some pre-assigned people, claim of the next person) for the engine's dialect."""
    lock = " FOR UPDATE SKIP LOCKED" if postgres else ""
    assigned = text(_CLAIM.format(pick=f"SELECT id FROM {_PERSON} WHERE id IN :people AND state = :queued "
                                       f"ORDER BY id LIMIT 1{lock}")).bindparams(bindparam("people", expanding=True))
    following = text(_CLAIM.format(pick=f"SELECT id {_NEXT}{lock}"))
    return assigned, following


_PEEK = text(f"SELECT {_VIEW} {_NEXT}")
_MARK = text(f"UPDATE {_PERSON} SET state = :state, note = :note, lease_station = NULL, lease_expires = NULL, "
             "updated_at = :at WHERE id = :id RETURNING id")
_MARK_CLAIMED = text(f"UPDATE {_PERSON} SET state = :state, note = :note, updated_at = :at WHERE id = :id RETURNING id")
_RENEW = text(f"UPDATE {_PERSON} SET lease_expires = :expires WHERE id = :id AND lease_station = :station "
              "AND state = :claimed RETURNING id")


def _refuse_unsafe_text(people: list[NewPerson]) -> None:
    """The last guard before the database: no control character, NUL or over-long value reaches it (PostgreSQL
    would refuse a NUL with an error that lists every row)."""
    unsafe = [f"{visible(p.upn[:UPN_MAX])}: {why}" for p in people
              for why in person_problems(p.upn, p.display_name, p.key_serial)]
    if unsafe:
        shown = "\n".join(f"  {u}" for u in unsafe[:MAX_PROBLEMS_SHOWN])
        more = f"\n  … and {len(unsafe) - MAX_PROBLEMS_SHOWN} more" if len(unsafe) > MAX_PROBLEMS_SHOWN else ""
        raise ImportRejectedError(f"{len(unsafe)} problem(s); nothing was added to the queue\n{shown}{more}",
                                  remedy="Fix these people's entries and add them again.")


def normalise_upn(upn: str) -> str:
    return upn.strip().lower()


class Queue:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._claim_assigned, self._claim_next = _claim_statements(is_postgres(engine))

    # -- adding ---------------------------------------------------------------------------------
    def add_people(self, people: Iterable[NewPerson]) -> AddResult:
        """Add or update people in one transaction, idempotent by object id, else by UPN.

        A person matches the queued row with their object id, else the one with their UPN (a rename in
        Entra ID keeps the row); a later duplicate in ``people`` matches the earlier one. The rows that can
        match are read first, then new people are inserted and changed ones updated with one executemany
        each, so that a 100,000-member group is queued in seconds.
        """
        incoming = list(people)
        _refuse_unsafe_text(incoming)
        try:
            with self.engine.begin() as conn:
                plan = _plan_additions(_matching_rows(conn, incoming), incoming)
                if plan.updates:
                    conn.execute(_UPDATE_PERSON, [{"row_id": r["id"], **{k: r[k] for k in _UPDATED}}
                                                  for r in plan.updates.values()])
                if plan.inserts:
                    conn.execute(insert(Person), plan.inserts)
                if plan.keys:
                    _assign_keys(conn, plan.keys)
        except IntegrityError:
            raise StoreError(
                "the import conflicts with the queue (a UPN or object id already belongs to another person, or "
                "another import added the same people at the same moment); nothing from it was written",
                remedy="Compare the people being imported with 'station queue show UPN'; if another import was "
                       "running, run this one again.",
                retryable=False,
            ) from None
        return AddResult(plan.added, plan.updated, plan.unchanged)

    def assign_key(self, upn: str, key_identity: str) -> None:
        with Session(self.engine) as s:
            person = self._get(s, upn)
            assert person.id is not None
            s.merge(KeyAssignment(key_identity=key_identity, person_id=person.id))
            s.commit()

    # -- claiming -------------------------------------------------------------------------------
    def claim_next(
        self, station_id: str, lease_seconds: float, key_identities: Iterable[str] = ()
    ) -> PersonView | None:
        """Claim the person pre-assigned to one of ``key_identities``, else the next queued person.

        People pre-assigned to a key are only claimed by that key (found by the assignments' primary key
        first). Each candidate set is one
        ``UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED) RETURNING …``: on PostgreSQL the sub-select
        locks the row it picks and skips rows other stations are claiming; on SQLite the transaction's
        ``BEGIN IMMEDIATE`` serialises claims. One prepared statement instead of an ORM load and flush keeps
        a claim cheap when a fleet of stations shares the queue.
        """
        identities = list(key_identities)
        t = now()
        values = {"claimed": PersonState.CLAIMED.value, "queued": PersonState.QUEUED.value, "station": station_id,
                  "expires": t + lease_seconds, "at": t, "limit": 1}
        with self.engine.begin() as conn:
            assigned = conn.execute(_ASSIGNED_TO, {"identities": identities}).scalars().all() if identities else []
            if assigned:
                row = conn.execute(self._claim_assigned, {**values, "people": assigned}).mappings().first()
                if row is not None:
                    return PersonView(**row)
            row = conn.execute(self._claim_next, values).mappings().first()
        return PersonView(**row) if row is not None else None

    def claim_person(self, person_id: int, station_id: str, lease_seconds: float) -> PersonView | None:
        """Claim one specific queued person (e.g. the one creation options were prefetched for)."""
        with Session(self.engine) as s:
            q = select(Person).where(Person.id == person_id, Person.state == PersonState.QUEUED.value)
            person = s.exec(q.with_for_update(skip_locked=True)).first()
            if person is None:
                s.rollback()
                return None
            return self._take(s, person, station_id, lease_seconds)

    @staticmethod
    def _take(s: Session, person: Person, station_id: str, lease_seconds: float) -> PersonView:
        person.state = PersonState.CLAIMED.value
        person.lease_station = station_id
        person.lease_expires = now() + lease_seconds
        person.attempts += 1
        person.updated_at = now()
        s.add(person)
        s.flush()
        view = PersonView.of(person)
        s.commit()
        return view

    def peek_next(self, limit: int) -> list[PersonView]:
        """The next people a claim would take (for prefetching and the dashboard). Does not claim."""
        with self.engine.connect() as conn:
            rows = conn.execute(_PEEK, {"queued": PersonState.QUEUED.value, "limit": limit}).mappings().all()
        return [PersonView(**row) for row in rows]

    def renew_lease(self, person_id: int, station_id: str, lease_seconds: float) -> bool:
        """Extend this station's lease on a person it still holds claimed (one conditional UPDATE)."""
        with self.engine.begin() as conn:
            row = conn.execute(_RENEW, {"expires": now() + lease_seconds, "id": person_id, "station": station_id,
                                        "claimed": PersonState.CLAIMED.value}).first()
        return row is not None

    def release(self, person_id: int, station_id: str | None = None, note: str = "") -> bool:
        """Return a claimed person to the queue (nothing was registered for them)."""
        with Session(self.engine) as s:
            person = s.get(Person, person_id, with_for_update=True)
            if person is None or person.state != PersonState.CLAIMED.value:
                s.rollback()
                return False
            if station_id is not None and person.lease_station != station_id:
                s.rollback()
                return False
            self._set_state(person, PersonState.QUEUED, note)
            s.add(person)
            s.commit()
            return True

    def expire_stale_leases(self, at: float | None = None) -> int:
        """Return people whose lease expired to the queue, unless an unfinished journal row needs reconciling."""
        at = now() if at is None else at
        with Session(self.engine) as s:
            open_rows = select(Enrolment.person_id).where(col(Enrolment.state).not_in(TERMINAL_JOURNAL_STATES))
            q = select(Person).where(
                Person.state == PersonState.CLAIMED.value,
                col(Person.lease_expires) < at,
                col(Person.id).not_in(open_rows),
            ).with_for_update(skip_locked=True)
            people = s.exec(q).all()
            for person in people:
                self._set_state(person, PersonState.QUEUED, "lease expired")
                s.add(person)
            s.commit()
            return len(people)

    # -- outcomes -------------------------------------------------------------------------------
    def mark(self, person_id: int, state: PersonState, note: str = "") -> None:
        """Set a person's outcome (as ``_set_state`` does, in one UPDATE)."""
        statement = _MARK_CLAIMED if state == PersonState.CLAIMED else _MARK
        with self.engine.begin() as conn:
            row = conn.execute(statement, {"state": state.value, "note": note[:1024], "at": now(),
                                           "id": person_id}).first()
        if row is None:
            raise NotFoundError(f"no person with id {person_id}")

    def retry(self, upn: str) -> PersonView:
        return self._transition(upn, {PersonState.FAILED, PersonState.SKIPPED}, PersonState.QUEUED, "")

    def skip(self, upn: str, note: str = "skipped by operator") -> PersonView:
        return self._transition(upn, {PersonState.QUEUED, PersonState.FAILED}, PersonState.SKIPPED, note)

    def _transition(self, upn: str, allowed: set[PersonState], to: PersonState, note: str) -> PersonView:
        with Session(self.engine) as s:
            person = self._get(s, upn, lock=True)
            if person.state not in {a.value for a in allowed}:
                raise InvalidStateError(
                    f"{person.upn} is {person.state}; only {' or '.join(sorted(a.value for a in allowed))} "
                    f"people can become {to.value}",
                    remedy="Check the person's state with 'station queue show UPN'.",
                )
            self._set_state(person, to, note)
            s.add(person)
            s.flush()
            view = PersonView.of(person)
            s.commit()
            return view

    @staticmethod
    def _set_state(person: Person, state: PersonState, note: str) -> None:
        person.state = state.value
        person.note = note[:1024]
        if state != PersonState.CLAIMED:
            person.lease_station = None
            person.lease_expires = None
        person.updated_at = now()

    # -- reading --------------------------------------------------------------------------------
    @staticmethod
    def _get(s: Session, upn_or_object_id: str, *, lock: bool = False) -> Person:
        key = upn_or_object_id.strip()
        q = select(Person).where(or_(col(Person.upn) == key.lower(), col(Person.object_id) == key))
        person = s.exec(q.with_for_update() if lock else q).first()
        if person is None:
            raise NotFoundError(f"nobody with UPN or object id {key!r} is in the queue")
        return person

    def get(self, upn_or_object_id: str) -> PersonView:
        with Session(self.engine) as s:
            return PersonView.of(self._get(s, upn_or_object_id))

    def get_by_id(self, person_id: int) -> PersonView | None:
        with Session(self.engine) as s:
            p = s.get(Person, person_id)
            return PersonView.of(p) if p else None

    def list(self, state: str | None = None, limit: int | None = None) -> list[PersonView]:
        with Session(self.engine) as s:
            q = select(Person).order_by(col(Person.priority).desc(), col(Person.id))
            if state:
                q = q.where(Person.state == state)
            if limit:
                q = q.limit(limit)
            return [PersonView.of(p) for p in s.exec(q).all()]

    def counts(self) -> dict[str, int]:
        with Session(self.engine) as s:
            rows = s.exec(select(Person.state, func.count()).group_by(Person.state)).all()
        out = {st.value: 0 for st in PersonState}
        out.update({state: n for state, n in rows})
        return out

    def key_assignment(self, person_id: int) -> str | None:
        with Session(self.engine) as s:
            row = s.exec(select(KeyAssignment).where(KeyAssignment.person_id == person_id)).first()
            return row.key_identity if row else None


# -- add_people's helpers ---------------------------------------------------------------------------
# Up to this many people are looked up by key (object id, UPN); more, and the key columns of the whole queue
# are read in one scan. An IN list of thousands of keys was measured at seconds per query on PostgreSQL
# right after a bulk load (stale statistics, a sequential scan per list); one scan costs ≈ 0.3 s per
# 100,000 queued people whatever the statistics say.
_KEY_LOOKUP_LIMIT = 500
_MATCH_COLUMNS = (col(Person.id), col(Person.upn), col(Person.display_name), col(Person.object_id))
_UPDATED = ("upn", "display_name", "object_id", "updated_at")
_UPDATE_PERSON = update(Person).where(col(Person.id) == bindparam("row_id")).values(
    {name: bindparam(name) for name in _UPDATED})


@dataclass
class _Additions:
    """What one add_people call writes: rows to insert, rows to update (by id), key pre-assignments."""

    inserts: list[dict[str, Any]] = field(default_factory=list)
    updates: dict[int, dict[str, Any]] = field(default_factory=dict)
    keys: dict[str, dict[str, Any]] = field(default_factory=dict)
    added: int = 0
    updated: int = 0
    unchanged: int = 0


def _matching_rows(conn: Connection, incoming: Sequence[NewPerson]) -> list[dict[str, Any]]:
    """The queued rows (id, upn, display_name, object_id) that any of ``incoming`` can match."""
    if len(incoming) > _KEY_LOOKUP_LIMIT:
        rows = conn.execute(select(*_MATCH_COLUMNS)).all()
    else:
        oids = list({p.object_id for p in incoming if p.object_id})
        upns = list({normalise_upn(p.upn) for p in incoming})
        rows = conn.execute(select(*_MATCH_COLUMNS).where(
            or_(col(Person.upn).in_(upns), col(Person.object_id).in_(oids)))).all()
    return [{"id": i, "upn": upn, "display_name": name, "object_id": oid} for i, upn, name, oid in rows]


def _plan_additions(existing: list[dict[str, Any]], incoming: Sequence[NewPerson]) -> _Additions:
    plan = _Additions()
    by_upn = {r["upn"]: r for r in existing}
    by_oid = {r["object_id"]: r for r in existing if r["object_id"]}
    t = now()
    for new in incoming:
        upn = normalise_upn(new.upn)
        person = (by_oid.get(new.object_id) if new.object_id else None) or by_upn.get(upn)
        if person is None:
            person = {"upn": upn, "display_name": new.display_name, "object_id": new.object_id,
                      "source": new.source, "priority": new.priority, "state": PersonState.QUEUED.value,
                      "attempts": 0, "note": "", "created_at": t, "updated_at": t}
            plan.inserts.append(person)
            plan.added += 1
        elif _apply_update(person, upn, new, t):
            if "id" in person:
                plan.updates[person["id"]] = person
            plan.updated += 1
        else:
            plan.unchanged += 1
        by_upn[person["upn"]] = person
        if person["object_id"]:
            by_oid[person["object_id"]] = person
        if new.key_serial:
            plan.keys[new.key_serial] = person
    return plan


def _apply_update(person: dict[str, Any], upn: str, new: NewPerson, t: float) -> bool:
    """Take ``new``'s UPN, and its name and object id when it has them; False when nothing changes."""
    changes = {"upn": upn, "display_name": new.display_name or person["display_name"],
               "object_id": new.object_id or person["object_id"]}
    if all(person[k] == v for k, v in changes.items()):
        return False
    person.update(changes, updated_at=t)
    return True


def _assign_keys(conn: Connection, keys: dict[str, dict[str, Any]]) -> None:
    """Pre-assign each key identity to its person (inserted just now or already queued), replacing an
    earlier assignment of the same key."""
    unknown = [p["upn"] for p in keys.values() if "id" not in p]
    ids: dict[str, int | None] = {}
    for i in range(0, len(unknown), _KEY_LOOKUP_LIMIT):
        chunk = unknown[i:i + _KEY_LOOKUP_LIMIT]
        ids.update((upn, i) for upn, i in conn.execute(select(col(Person.upn), col(Person.id)).where(
            col(Person.upn).in_(chunk))))
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(KeyAssignment)
    stmt = stmt.on_conflict_do_update(index_elements=[col(KeyAssignment.key_identity)],
                                      set_={"person_id": stmt.excluded.person_id,
                                            "created_at": stmt.excluded.created_at})
    t = now()
    conn.execute(stmt, [{"key_identity": key, "person_id": p["id"] if "id" in p else ids[p["upn"]], "created_at": t}
                        for key, p in keys.items()])
