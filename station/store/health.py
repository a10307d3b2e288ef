"""Whether the store can be written: a full disk or a read-only store, recognised once, at the engine.

``watch`` hooks SQLAlchemy's ``handle_error``: a database error that means "cannot write" (SQLite's FULL,
READONLY, IOERR and CANTOPEN; PostgreSQL's disk_full, read_only_sql_transaction and io_error) becomes a
``StoreNotWritableError`` saying "store not writable: disk full (/var/lib/station/station.db)" — one line
for every command — and marks ``StoreHealth``. The daemon shows that mark in its status and clears it once
a probe (``filesystem_problem`` and a heartbeat write) succeeds. ``WritableQueue`` refuses claims while the
store is marked or its filesystem is full, so no key gets a PIN the journal could not record.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Final

from sqlalchemy import event
from sqlalchemy.engine import Engine

from station.errors import StoreNotWritableError
from station.store.queue import PersonView, Queue

# Below this much free space on the SQLite store's filesystem, new enrolments are refused: one enrolment
# writes a few rows (the attestation object is the largest, a few KiB) and their WAL pages.
MIN_FREE_BYTES: Final = 1 << 20
SQLITE_CAUSES: Final = {13: "disk full", 8: "read-only", 10: "disk I/O error", 14: "cannot open the database file"}
KEY_REFUSED_REMEDY: Final = ("Remove the key: it was not changed. The station takes keys again by itself once "
                              "the administrator has freed space (or made the store writable).")
POSTGRES_CAUSES: Final = {"53100": "disk full", "25006": "read-only", "58030": "disk I/O error"}


def not_writable_cause(exc: BaseException | None) -> str | None:
    """What a database error says about writing, when it says the store cannot be written; else None."""
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return SQLITE_CAUSES.get(code & 0xFF)
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str):
        return POSTGRES_CAUSES.get(sqlstate)
    return None


def sqlite_path(url: str) -> Path | None:
    if not url.startswith("sqlite") or "///" not in url:
        return None
    path = url.split("///", 1)[1].split("?", 1)[0]
    return None if path in ("", ":memory:") else Path(path)


def filesystem_problem(db: Path, min_free: int = MIN_FREE_BYTES) -> str | None:
    """Why the SQLite store at ``db`` cannot take an enrolment's writes (read-only, nearly full); else None."""
    try:
        st = os.statvfs(db.parent)
    except OSError as e:
        return f"cannot check its filesystem: {e.strerror}"
    if st.f_flag & os.ST_RDONLY:
        return "read-only filesystem"
    if not os.access(db.parent, os.W_OK) or (db.exists() and not os.access(db, os.W_OK)):
        return "read-only (permissions)"
    free = st.f_bavail * st.f_frsize
    if free < min_free:
        return f"disk full ({free // 1024} KiB free)"
    return None


class StoreHealth:
    """The store's last known write problem (None when writable); thread-safe."""

    def __init__(self, where: str, db: Path | None) -> None:
        self.where = where
        self.db = db
        self._problem: str | None = None
        self._lock = threading.Lock()

    @property
    def problem(self) -> str | None:
        """``"store not writable: <cause> (<where>)"`` while the store is known not writable."""
        with self._lock:
            return self._problem

    def failed(self, cause: str) -> StoreNotWritableError:
        """Mark the store not writable; the error to raise. The filesystem's own account wins when it has one."""
        found = filesystem_problem(self.db) if self.db is not None else None
        message = f"store not writable: {found or cause or 'refused'} ({self.where})"
        with self._lock:
            self._problem = message
        return StoreNotWritableError(message)

    def recovered(self) -> None:
        with self._lock:
            self._problem = None

    def refresh(self) -> str | None:
        """Re-check the filesystem (marking a problem found there); the problem now, if any."""
        if self.db is not None and filesystem_problem(self.db) is not None:
            self.failed("")
        return self.problem

    def check(self) -> None:
        """Raise StoreNotWritableError while the store is marked, or its filesystem cannot take an enrolment."""
        if self.db is not None and filesystem_problem(self.db) is not None:
            raise self.failed("")
        problem = self.problem
        if problem is not None:
            raise StoreNotWritableError(problem)

    def probe(self, write: Callable[[], object]) -> bool:
        """Check the filesystem, then ``write()`` (a small real write); clear the mark when both succeed."""
        if self.db is not None and filesystem_problem(self.db) is not None:
            self.failed("")
            return False
        try:
            write()
        except StoreNotWritableError:
            return False
        self.recovered()
        return True


def watch(engine: Engine, health: StoreHealth) -> None:
    """Turn the engine's not-writable database errors into StoreNotWritableError and mark ``health``."""

    @event.listens_for(engine, "handle_error")
    def _on_error(context: Any) -> None:
        cause = not_writable_cause(context.original_exception)
        if cause is not None:
            raise health.failed(cause) from None


class WritableQueue(Queue):
    """The queue, refusing claims while the store cannot record an enrolment."""

    def __init__(self, engine: Engine, health: StoreHealth) -> None:
        super().__init__(engine)
        self.health = health

    def claim_next(self, station_id: str, lease_seconds: float,
                   key_identities: Iterable[str] = ()) -> PersonView | None:
        try:
            self.health.check()
        except StoreNotWritableError as e:
            raise StoreNotWritableError(e.message, remedy=KEY_REFUSED_REMEDY) from None
        return super().claim_next(station_id, lease_seconds, key_identities)
