"""Queue operations on people: add/import, pre-assign keys, claim with a lease, release, mark, retry, skip.

Order is priority (high first) then import order. On SQLite a claim is one transaction under ``BEGIN IMMEDIATE``
(atomic across processes); on PostgreSQL it is one autocommitted ``UPDATE … WHERE id = (SELECT … FOR UPDATE
SKIP LOCKED)`` (atomic on its own: one round trip instead of BEGIN, UPDATE, COMMIT). Every
read-check-write of one person (renew, release, mark, retry, skip) is one conditional UPDATE or locks that row
on PostgreSQL, so a check cannot pass on a state another station is changing.

Every statement is SQL text built once, run on a connection (as in the rest of the store): composing them with
the expression language or loading ORM objects cost more CPU per call than the database spent running them.
Only table and column names from the models appear in the text; every value is a bound parameter.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import TextClause, bindparam, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from station.errors import ImportRejectedError, InvalidStateError, NotFoundError, StoreError
from station.store.additions import INSERTED, UPDATE_PERSON, UPDATED, assign_keys, matching_rows, plan_additions
from station.store.engine import is_postgres
from station.store.models import TERMINAL_JOURNAL_STATES, Enrolment, KeyAssignment, Person, PersonState, now
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
    preferred_language: str | None = None  # Entra ID's preferredLanguage, for the person's letter


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
    failures: int
    priority: int
    source: str
    note: str
    lease_station: str | None
    lease_expires: float | None
    preferred_language: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "upn": self.upn, "display_name": self.display_name, "object_id": self.object_id,
            "state": self.state, "attempts": self.attempts, "failures": self.failures, "priority": self.priority,
            "source": self.source, "note": self.note, "preferred_language": self.preferred_language,
        }


_PERSON = Person.__tablename__
_ASSIGNED = KeyAssignment.__tablename__
_VIEW = ", ".join(PersonView.__dataclass_fields__)
_CLAIM = (f"UPDATE {_PERSON} SET state = :claimed, lease_station = :station, lease_expires = :expires, "
          f"attempts = attempts + 1, updated_at = :at WHERE id = ({{pick}}) RETURNING {_VIEW}")
# The people pre-assigned to a key are looked up by the assignment's primary key first (almost always
# nobody): a join driven from the queue side would walk every queued person when the planner's statistics
# are stale. The next person is taken by priority, then fewest failed attempts (a failure moves a person behind
# everyone not yet tried), then import order (the claim walks ix_person_claim_order).
# PostgreSQL locks the row it picks and skips rows other stations are claiming; SQLite's BEGIN IMMEDIATE
# serialises whole claims instead. The claim's LIMIT 1 is written out: with a bound limit PostgreSQL's estimate
# of the prepared statement's generic plan stayed above its custom plans, so it planned every claim again
# (≈ 0.1 ms of server CPU per claim).
_ASSIGNED_TO = text(f"SELECT person_id FROM {_ASSIGNED} WHERE key_identity IN :identities").bindparams(
    bindparam("identities", expanding=True))
_NEXT = (f"FROM {_PERSON} WHERE state = :queued AND id NOT IN (SELECT person_id FROM {_ASSIGNED}) "
         "ORDER BY priority DESC, failures, id")


def _claim_statements(postgres: bool) -> tuple[TextClause, TextClause]:
    """(claim of one of some pre-assigned people, claim of the next person) for the engine's dialect."""
    lock = " FOR UPDATE SKIP LOCKED" if postgres else ""
    assigned = text(_CLAIM.format(pick=f"SELECT id FROM {_PERSON} WHERE id IN :people AND state = :queued "
                                       f"ORDER BY id LIMIT 1{lock}")).bindparams(bindparam("people", expanding=True))
    following = text(_CLAIM.format(pick=f"SELECT id {_NEXT} LIMIT 1{lock}"))
    return assigned, following


_PEEK = text(f"SELECT {_VIEW} {_NEXT} LIMIT :limit")
_MARK = text(f"UPDATE {_PERSON} SET state = :state, note = :note, lease_station = NULL, lease_expires = NULL, "
             "updated_at = :at WHERE id = :id RETURNING id")
_MARK_CLAIMED = text(f"UPDATE {_PERSON} SET state = :state, note = :note, updated_at = :at WHERE id = :id RETURNING id")
_REQUEUE_FAILED = text(
    f"UPDATE {_PERSON} SET failures = failures + 1, "
    "state = CASE WHEN failures + 1 >= :max THEN :failed ELSE :queued END, "
    "note = CASE WHEN failures + 1 >= :max THEN :last_note ELSE :note END, "
    "lease_station = NULL, lease_expires = NULL, updated_at = :at "
    "WHERE id = :id AND state = :claimed AND lease_station = :station RETURNING state")
_RELEASE = (f"UPDATE {_PERSON} SET state = :queued, note = :note, lease_station = NULL, lease_expires = NULL, "
            "updated_at = :at WHERE id = :id AND state = :claimed")
_RELEASE_ANY = text(f"{_RELEASE} RETURNING id")
_RELEASE_OWN = text(f"{_RELEASE} AND lease_station = :station RETURNING id")
_INSERT_PEOPLE = text(f"INSERT INTO {_PERSON} ({', '.join(INSERTED)}) VALUES ({', '.join(':' + c for c in INSERTED)})")
_SET_STATE = text(f"UPDATE {_PERSON} SET state = :state, note = :note, failures = :failures, lease_station = NULL, "
                  f"lease_expires = NULL, updated_at = :at WHERE id = :id RETURNING {_VIEW}")
_BY_ID = text(f"SELECT {_VIEW} FROM {_PERSON} WHERE id = :id")
_BY_KEY = f"SELECT {_VIEW} FROM {_PERSON} WHERE upn = :upn OR object_id = :key"
_LIST = f"SELECT {_VIEW} FROM {_PERSON}"
_COUNTS = text(f"SELECT state, COUNT(*) FROM {_PERSON} GROUP BY state")
_ASSIGNMENTS = text(f"SELECT person_id, key_identity FROM {_ASSIGNED} ORDER BY key_identity DESC")
_ASSIGNMENT = text(f"SELECT key_identity FROM {_ASSIGNED} WHERE person_id = :id ORDER BY key_identity LIMIT 1")
_OPEN_JOURNAL = f"SELECT person_id FROM {Enrolment.__tablename__} WHERE state NOT IN :terminal"


def _expire_statement(postgres: bool) -> TextClause:
    """People claimed past their lease, back to the queue, unless an unfinished journal row needs reconciling;
    PostgreSQL skips the rows another station is changing."""
    lock = " FOR UPDATE SKIP LOCKED" if postgres else ""
    return text(
        f"UPDATE {_PERSON} SET state = :queued, note = :note, lease_station = NULL, lease_expires = NULL, "
        f"updated_at = :now WHERE state = :claimed AND id IN (SELECT id FROM {_PERSON} WHERE state = :claimed "
        f"AND lease_expires < :at AND id NOT IN ({_OPEN_JOURNAL}){lock})"
    ).bindparams(bindparam("terminal", expanding=True))


_RENEW = text(f"UPDATE {_PERSON} SET lease_expires = :expires WHERE id = :id AND lease_station = :station "
              "AND state = :claimed RETURNING id")


def unsafe_text(people: list[NewPerson]) -> list[str]:
    """What is unsafe in ``people``: a control character, NUL or over-long value (PostgreSQL would refuse a NUL
    with an error that lists every row)."""
    return [f"{visible(p.upn[:UPN_MAX])}: {why}" for p in people
            for why in person_problems(p.upn, p.display_name, p.key_serial)]


def refuse_unsafe_text(unsafe: list[str], count: int) -> None:
    """The last guard before the database: refuse the whole import when any of its ``count`` problems (the
    first of them in ``unsafe``) was found."""
    if count:
        shown = "\n".join(f"  {u}" for u in unsafe[:MAX_PROBLEMS_SHOWN])
        more = f"\n  … and {count - MAX_PROBLEMS_SHOWN} more" if count > MAX_PROBLEMS_SHOWN else ""
        raise ImportRejectedError(f"{count} problem(s); nothing was added to the queue\n{shown}{more}",
                                  remedy="Fix these people's entries and add them again.")


@contextmanager
def conflicts_refused() -> Iterator[None]:
    """An import's IntegrityError as the StoreError an operator can act on (its transaction rolled back)."""
    try:
        yield
    except IntegrityError:
        raise StoreError(
            "the import conflicts with the queue (a UPN or object id already belongs to another person, or "
            "another import added the same people at the same moment); nothing from it was written",
            remedy="Compare the people being imported with 'station queue show UPN'; if another import was "
                   "running, run this one again.",
            retryable=False,
        ) from None


def add_planned(conn: Connection, incoming: list[NewPerson]) -> AddResult:
    """Match ``incoming`` to the queued rows, plan in memory, then insert and update with one executemany each."""
    plan = plan_additions(matching_rows(conn, incoming), incoming)
    if plan.updates:
        conn.execute(UPDATE_PERSON, [{"row_id": r["id"], **{k: r[k] for k in UPDATED}}
                                     for r in plan.updates.values()])
    if plan.inserts:
        conn.execute(_INSERT_PEOPLE, plan.inserts)
    if plan.keys:
        assign_keys(conn, plan.keys)
    return AddResult(plan.added, plan.updated, plan.unchanged)


def normalise_upn(upn: str) -> str:
    return upn.strip().lower()


class Queue:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        postgres = is_postgres(engine)
        self._claim_assigned, self._claim_next = _claim_statements(postgres)
        self._expire = _expire_statement(postgres)
        self._by_key_locked = text(_BY_KEY + (" FOR UPDATE" if postgres else ""))
        self._by_key = text(_BY_KEY)
        # Each claim statement stands alone (every statement of a READ COMMITTED transaction reads its own
        # snapshot anyway), so on PostgreSQL it commits by itself; SQLite needs the BEGIN IMMEDIATE.
        self._claiming = engine.execution_options(isolation_level="AUTOCOMMIT") if postgres else engine

    # -- adding ---------------------------------------------------------------------------------
    def add_people(self, people: Iterable[NewPerson]) -> AddResult:
        """Add or update people in one transaction, idempotent by object id, else by UPN.

        A person matches the queued row with their object id, else the one with their UPN (a rename in
        Entra ID keeps the row); a later duplicate in ``people`` matches the earlier one. The rows that can
        match are read first, then new people are inserted and changed ones updated with one executemany
        each, so that a 100,000-member group is queued in seconds.
        """
        incoming = list(people)
        unsafe = unsafe_text(incoming)
        refuse_unsafe_text(unsafe, len(unsafe))
        with conflicts_refused(), self.engine.begin() as conn:
            return add_planned(conn, incoming)

    # -- claiming -------------------------------------------------------------------------------
    def claim_next(
        self, station_id: str, lease_seconds: float, key_identities: Iterable[str] = ()
    ) -> PersonView | None:
        """Claim the person pre-assigned to one of ``key_identities``, else the next queued person.

        People pre-assigned to a key are only claimed by that key (found by the assignments' primary key
        first). Each candidate set is one
        ``UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED) RETURNING …``: on PostgreSQL the sub-select
        locks the row it picks and skips rows other stations are claiming, and the statement commits by itself;
        on SQLite the transaction's ``BEGIN IMMEDIATE`` serialises claims. One prepared statement instead of an
        ORM load and flush keeps a claim cheap when a fleet of stations shares the queue.
        """
        identities = list(key_identities)
        t = now()
        values = {"claimed": PersonState.CLAIMED.value, "queued": PersonState.QUEUED.value, "station": station_id,
                  "expires": t + lease_seconds, "at": t}
        with self._claiming.begin() as conn:
            assigned = conn.execute(_ASSIGNED_TO, {"identities": identities}).scalars().all() if identities else []
            if assigned:
                row = conn.execute(self._claim_assigned, {**values, "people": assigned}).mappings().first()
                if row is not None:
                    return PersonView(**row)
            row = conn.execute(self._claim_next, values).mappings().first()
        return PersonView(**row) if row is not None else None

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
        """Return a claimed person (held by ``station_id``, when given) to the queue: nothing was registered
        for them. One conditional UPDATE; False when they were not so claimed."""
        values = {"queued": PersonState.QUEUED.value, "claimed": PersonState.CLAIMED.value, "note": note[:1024],
                  "at": now(), "id": person_id, "station": station_id}
        with self.engine.begin() as conn:
            row = conn.execute(_RELEASE_ANY if station_id is None else _RELEASE_OWN, values).first()
        return row is not None

    def requeue_failed(self, person_id: int, station_id: str, note: str, max_attempts: int) -> str | None:
        """A failed attempt of a person this station holds: one more failure, then back in the queue behind
        everyone not yet tried, or ``failed`` with ``note`` (the last reason) once ``max_attempts`` failed.
        The person's new state, or None when this station no longer holds them."""
        with self.engine.begin() as conn:
            row = conn.execute(_REQUEUE_FAILED, {
                "max": max_attempts, "failed": PersonState.FAILED.value, "queued": PersonState.QUEUED.value,
                "claimed": PersonState.CLAIMED.value, "note": note[:1024], "at": now(), "id": person_id,
                "last_note": f"failed {max_attempts} attempts; last: {note}"[:1024], "station": station_id,
            }).first()
        return None if row is None else str(row[0])

    def expire_stale_leases(self, at: float | None = None) -> int:
        """Return people whose lease expired to the queue, unless an unfinished journal row needs reconciling."""
        t = now()
        with self.engine.begin() as conn:
            result = conn.execute(self._expire, {
                "queued": PersonState.QUEUED.value, "claimed": PersonState.CLAIMED.value, "note": "lease expired",
                "now": t, "at": t if at is None else at, "terminal": TERMINAL_JOURNAL_STATES})
        return int(result.rowcount)

    # -- outcomes -------------------------------------------------------------------------------
    def mark(self, person_id: int, state: PersonState, note: str = "") -> None:
        """Set a person's outcome in one UPDATE (a claimed person keeps their lease)."""
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
        """An operator's move of one person (locked on PostgreSQL while it is checked)."""
        with self.engine.begin() as conn:
            person = self._find(conn, upn, lock=True)
            if person.state == PersonState.CLAIMED.value:
                raise InvalidStateError(
                    f"{person.upn} is claimed by station {person.lease_station}; a claimed person cannot "
                    f"become {to.value}",
                    remedy=f"If that station is gone or its enrolment is unresolved, run 'station queue resolve "
                           f"{person.upn}': it asks Entra ID, then finishes the enrolment or requeues them.")
            if person.state not in {a.value for a in allowed}:
                raise InvalidStateError(
                    f"{person.upn} is {person.state}; only {' or '.join(sorted(a.value for a in allowed))} "
                    f"people can become {to.value}",
                    remedy="Check the person's state with 'station queue show UPN'.",
                )
            # an operator's retry gives them their attempts again
            failures = 0 if to == PersonState.QUEUED else person.failures
            row = conn.execute(_SET_STATE, {"state": to.value, "note": note[:1024], "failures": failures,
                                            "at": now(), "id": person.id}).mappings().one()
        return PersonView(**row)

    # -- reading --------------------------------------------------------------------------------
    def _find(self, conn: Connection, upn_or_object_id: str, *, lock: bool = False) -> PersonView:
        key = upn_or_object_id.strip()
        statement = self._by_key_locked if lock else self._by_key
        row = conn.execute(statement, {"upn": key.lower(), "key": key}).mappings().first()
        if row is None:
            raise NotFoundError(f"nobody with UPN or object id {key!r} is in the queue")
        return PersonView(**row)

    def get(self, upn_or_object_id: str) -> PersonView:
        with self.engine.connect() as conn:
            return self._find(conn, upn_or_object_id)

    def get_by_id(self, person_id: int) -> PersonView | None:
        with self.engine.connect() as conn:
            row = conn.execute(_BY_ID, {"id": person_id}).mappings().first()
        return PersonView(**row) if row is not None else None

    def list(self, state: str | None = None, limit: int | None = None) -> list[PersonView]:
        """People by priority (high first), then import order; only those in ``state``, the first ``limit``."""
        sql = _LIST + (" WHERE state = :state" if state else "") + " ORDER BY priority DESC, id"
        sql += " LIMIT :limit" if limit else ""
        with self.engine.connect() as conn:
            rows = conn.execute(text(sql), {"state": state, "limit": limit}).mappings().all()
        return [PersonView(**row) for row in rows]

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(_COUNTS).all()
        out = {st.value: 0 for st in PersonState}
        out.update({str(state): int(n) for state, n in rows})
        return out

    def key_assignments(self) -> dict[int, str]:
        """Person id → the key pre-assigned to them (the first by identity, when several are)."""
        with self.engine.connect() as conn:
            return {int(person_id): str(key) for person_id, key in conn.execute(_ASSIGNMENTS).all()}

    def key_assignment(self, person_id: int) -> str | None:
        """The key pre-assigned to this person (the first by identity, when several are)."""
        with self.engine.connect() as conn:
            return conn.execute(_ASSIGNMENT, {"id": person_id}).scalar()
