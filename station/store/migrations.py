"""Schema versioning: a small ordered list of migrations applied at start, recorded in ``meta``.

A hand-rolled scheme instead of alembic: the schema is small, migrations must run unattended on
SQLite and PostgreSQL at daemon start, and a list of functions keeps that one readable file.
Version 1 creates every table; later versions append a function here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

from station.errors import StoreError
from station.store import models  # noqa: F401  (registers the tables)

log = logging.getLogger(__name__)

Migration = Callable[[Connection], None]


def _v1_create_tables(conn: Connection) -> None:
    SQLModel.metadata.create_all(conn)


MIGRATIONS: list[Migration] = [_v1_create_tables]
SCHEMA_VERSION = len(MIGRATIONS)


def current_version(conn: Connection) -> int:
    if not conn.dialect.has_table(conn, "meta"):
        return 0
    row = conn.execute(text("SELECT value FROM meta WHERE key = 'schema_version'")).first()
    return int(row[0]) if row else 0


def migrate(engine: Engine) -> int:
    """Bring the schema up to date; returns the version. Safe to run from several processes at once."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(4242001)"))
        version = current_version(conn)
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"the store's schema is version {version}, newer than this Station understands ({SCHEMA_VERSION})",
                remedy="Upgrade Station on this machine to the version the other stations run.",
            )
        for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
            log.info("applying store migration %d (%s)", number, step.__name__)
            step(conn)
        if version < SCHEMA_VERSION:
            if version == 0:
                conn.execute(text("INSERT INTO meta (key, value) VALUES ('schema_version', :v)"),
                             {"v": str(SCHEMA_VERSION)})
            else:
                conn.execute(text("UPDATE meta SET value = :v WHERE key = 'schema_version'"),
                             {"v": str(SCHEMA_VERSION)})
        return SCHEMA_VERSION
