"""A large import (a directory group, a CSV file) read page by page into a staging table, then applied to the
queue in one transaction with ``Queue.add_people``'s semantics — in bounded memory, all or nothing, and
without holding the queue's write lock while the source is read.

Each page is checked (station/text.py) and appended to a TEMP table of the import's own connection: on
SQLite in deferred transactions that write only the temp database, so claims (``BEGIN IMMEDIATE`` on the
queue) never wait for them; on PostgreSQL with COPY. Nothing of the queue is written until ``apply``, which in
one transaction matches every staged person to a queued row (by object id, else by UPN unless both have object
ids and they differ — one join each),
updates the matched people whose UPN, name, object id or language changed (``UPDATE … FROM``), inserts the
newcomers in import order (``INSERT … SELECT``) and upserts their key pre-assignments. An import that fails
before — Graph failing on a page, a rejected CSV row — leaves the queue as it was.

Set-based SQL gives add_people's answer only when no staged person can see another: when a UPN or object id
appears twice among them, two of them match one queued person, or one matched by object id takes the UPN
of another queued person, add_people's outcome depends on the order it walks them in. Such an import is
read back from the staging table in import order and planned in memory as add_people does (its memory is
then add_people's).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from itertools import islice
from typing import Any, cast

from sqlalchemy import TextClause, text
from sqlalchemy.engine import Connection, Engine

from station.store.additions import INSERTED
from station.store.engine import is_postgres
from station.store.models import KeyAssignment, Person, PersonState, now
from station.store.queue import (
    MAX_PROBLEMS_SHOWN,
    AddResult,
    NewPerson,
    add_planned,
    conflicts_refused,
    normalise_upn,
    refuse_unsafe_text,
    unsafe_text,
)

STAGED = ("seq", "upn", "display_name", "object_id", "preferred_language", "source", "priority", "key_serial")
PAGE = 1000  # people staged per write
# SQLite's page cache while the queue is matched and written, in KiB (2 MB by default): a group's object ids
# and UPNs are random, so each lookup and insert lands on another page of those two indexes. 16 MB, bounded
# whatever the group's size, took `station import --group` of 100,000 members from ≈ 3.7 to ≈ 3.3 s.
SQLITE_APPLY_CACHE_KIB = 16 * 1024
_T = "import_staging"
_PERSON = Person.__tablename__
_SQLITE_TABLE = (f"CREATE TEMP TABLE {_T} (seq INTEGER PRIMARY KEY, upn TEXT NOT NULL, display_name TEXT NOT NULL, "
                 "object_id TEXT, preferred_language TEXT, source TEXT NOT NULL, priority INTEGER NOT NULL, "
                 "key_serial TEXT, by_oid INTEGER, by_upn INTEGER)")
_POSTGRES_TABLE = (f"CREATE TEMP TABLE {_T} (seq integer NOT NULL, upn text NOT NULL, display_name text NOT NULL, "
                   "object_id text, preferred_language text, source text NOT NULL, priority integer NOT NULL, "
                   "key_serial text, by_oid integer, by_upn integer)")
_STAGE = f"INSERT INTO {_T} ({', '.join(STAGED)}) VALUES ({', '.join('?' for _ in STAGED)})"
_COPY = f"COPY {_T} ({', '.join(STAGED)}) FROM STDIN"
# The queued row each staged person matches, by object id and by UPN, read before anything is written.
_MATCH = text(
    f"UPDATE {_T} SET by_oid = m.by_oid, by_upn = m.by_upn FROM (SELECT s.seq AS seq, po.id AS by_oid, "
    f"pu.id AS by_upn FROM {_T} s LEFT JOIN {_PERSON} po ON po.object_id = s.object_id AND s.object_id <> '' "
    f"LEFT JOIN {_PERSON} pu ON pu.upn = s.upn AND (COALESCE(s.object_id, '') = '' OR "
    f"COALESCE(pu.object_id, '') = '' OR pu.object_id = s.object_id) WHERE po.id IS NOT NULL OR pu.id IS NOT NULL) m "
    f"WHERE {_T}.seq = m.seq")
_MATCHED = f"COALESCE({_T}.by_oid, {_T}.by_upn)"
_ORDER_DEPENDENT = text(
    f"SELECT 1 FROM {_T} GROUP BY upn HAVING COUNT(*) > 1 "
    f"UNION ALL SELECT 1 FROM {_T} WHERE object_id <> '' GROUP BY object_id HAVING COUNT(*) > 1 "
    f"UNION ALL SELECT 1 FROM {_T} WHERE {_MATCHED} IS NOT NULL GROUP BY {_MATCHED} HAVING COUNT(*) > 1 "
    f"UNION ALL SELECT 1 FROM {_T} WHERE by_oid <> by_upn LIMIT 1")
_IN_ORDER = text(f"SELECT {', '.join(STAGED[1:])} FROM {_T} ORDER BY seq")
# add_people's update: the UPN always, a name, object id or language only when the import has one.
_NEW = {"upn": f"{_T}.upn", "display_name": f"COALESCE(NULLIF({_T}.display_name, ''), {_PERSON}.display_name)",
        "object_id": f"COALESCE(NULLIF({_T}.object_id, ''), {_PERSON}.object_id)",
        "preferred_language": f"COALESCE(NULLIF({_T}.preferred_language, ''), {_PERSON}.preferred_language)"}


def _update_statement(postgres: bool) -> TextClause:
    """The matched people whose values change (``IS NOT`` is SQLite's null-safe inequality before 3.39)."""
    differs = " IS DISTINCT FROM " if postgres else " IS NOT "
    return text(f"UPDATE {_PERSON} SET {', '.join(f'{c} = {v}' for c, v in _NEW.items())}, updated_at = :at "
                f"FROM {_T} WHERE {_PERSON}.id = {_MATCHED} AND "
                f"({' OR '.join(f'{_PERSON}.{c}{differs}{v}' for c, v in _NEW.items())})")


_INSERT = text(
    f"INSERT INTO {_PERSON} ({', '.join(INSERTED)}) SELECT upn, display_name, object_id, preferred_language, source, "
    f"priority, :queued, 0, '', :at, :at FROM {_T} WHERE {_MATCHED} IS NULL ORDER BY seq")
# After the writes every staged person's row has their UPN; the last of them naming a key gets it.
_ASSIGN = text(
    f"INSERT INTO {KeyAssignment.__tablename__} (key_identity, person_id, created_at) SELECT s.key_serial, p.id, :at "
    f"FROM {_T} s JOIN {_PERSON} p ON p.upn = s.upn WHERE s.seq IN (SELECT MAX(seq) FROM {_T} WHERE key_serial <> '' "
    "GROUP BY key_serial) ON CONFLICT (key_identity) DO UPDATE SET person_id = excluded.person_id, "
    "created_at = excluded.created_at")


class StagedImport:
    """``with store.staged_import() as batch: batch.stage(people); result = batch.apply()`` (the staging table
    lives as long as the block; ``apply`` may run once)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._raw = cast(Any, conn.connection.dbapi_connection)  # sqlite3 or psycopg, used as such
        self._postgres = is_postgres(conn.engine)
        self._staged = 0
        self._unsafe: list[str] = []
        self._unsafe_count = 0
        self._outside_transaction(_POSTGRES_TABLE if self._postgres else _SQLITE_TABLE)
        self._cache_size = 0 if self._postgres else self._raw.execute("PRAGMA cache_size").fetchone()[0]

    def stage(self, people: Iterable[NewPerson]) -> None:
        """Check and stage ``people``, a page of ``PAGE`` at a time (the queue is not touched)."""
        it = iter(people)
        while page := list(islice(it, PAGE)):
            unsafe = unsafe_text(page)
            self._unsafe_count += len(unsafe)
            self._unsafe.extend(unsafe[:MAX_PROBLEMS_SHOWN - len(self._unsafe)])
            if self._unsafe_count:
                continue  # apply refuses the import: read on to count every problem, write nothing (a NUL breaks COPY)
            rows = [(self._staged + i, normalise_upn(p.upn), p.display_name, p.object_id, p.preferred_language,
                     p.source, p.priority, p.key_serial) for i, p in enumerate(page)]
            self._staged += len(rows)
            if self._postgres:
                with self._raw.cursor() as cur, cur.copy(_COPY) as copy:
                    for row in rows:
                        copy.write_row(row)
                self._raw.commit()
            else:  # a deferred transaction writing only the temp database: the queue's lock is not taken
                cur = self._raw.cursor()
                cur.execute("BEGIN")
                cur.executemany(_STAGE, rows)
                cur.execute("COMMIT")

    def apply(self) -> AddResult:
        """Write the staged people to the queue in one transaction (nothing, if any was refused)."""
        refuse_unsafe_text(self._unsafe, self._unsafe_count)
        if not self._postgres:
            self._outside_transaction(f"PRAGMA cache_size = -{SQLITE_APPLY_CACHE_KIB}")
        t = now()
        with conflicts_refused(), self._conn.begin():
            self._conn.execute(_MATCH)
            if self._conn.execute(_ORDER_DEPENDENT).first() is not None:
                rows = self._conn.execute(_IN_ORDER).mappings().all()
                return add_planned(self._conn, [NewPerson(**row) for row in rows])
            updated = self._conn.execute(_update_statement(self._postgres), {"at": t}).rowcount
            added = self._conn.execute(_INSERT, {"queued": PersonState.QUEUED.value, "at": t}).rowcount
            self._conn.execute(_ASSIGN, {"at": t})
        return AddResult(added, updated, self._staged - added - updated)

    def _outside_transaction(self, statement: str) -> None:
        cur = self._raw.cursor()
        try:
            cur.execute(statement)
        finally:
            cur.close()
        if self._postgres:
            self._raw.commit()

    def drop(self) -> None:
        self._raw.rollback()  # a page whose write failed leaves its transaction open (aborted, on PostgreSQL)
        self._outside_transaction(f"DROP TABLE {_T}")
        if not self._postgres:  # the pooled connection goes back with its usual cache
            self._outside_transaction(f"PRAGMA cache_size = {self._cache_size}")


@contextmanager
def staged_import(engine: Engine) -> Iterator[StagedImport]:
    with engine.connect() as conn:
        batch = StagedImport(conn)
        try:
            yield batch
        finally:
            batch.drop()
