"""A stamp that changes whenever a SQLite store may have changed, so that a reader can keep what it last counted.

SQLite's ``PRAGMA data_version`` changes on a connection when another connection (another process: ``station
queue add``, an import, another engine) commits; this engine's own commits are counted through SQLAlchemy's
``commit`` event. Together, with the identity of the connection asked (a new connection numbers differently),
they change whenever a committed write may have changed what a query reads. Reading the stamp is one PRAGMA,
against a ``GROUP BY`` over a million rows. PostgreSQL has no such value: ``stamp`` is None there, and the
reader asks again every time.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine


class ChangeStamp:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._commits = 0
        self._lock = threading.Lock()
        self._sqlite = engine.dialect.name == "sqlite"
        if self._sqlite:
            event.listen(engine, "commit", self._committed)

    def _committed(self, _conn: Any) -> None:
        with self._lock:
            self._commits += 1

    def stamp(self) -> tuple[int, int, int] | None:
        """The store's current stamp (taken before reading what it guards), or None when there is none."""
        if not self._sqlite:
            return None
        with self._lock:
            commits = self._commits
        # The pooled connection itself, outside a transaction: no BEGIN IMMEDIATE, so no write lock for a PRAGMA.
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            (version,) = cursor.execute("PRAGMA data_version").fetchone()
            cursor.close()
            return id(raw.dbapi_connection), int(version), commits
        finally:
            raw.close()
