"""Schema versioning: a small ordered list of migrations applied at start, recorded in ``meta``.

A hand-rolled scheme instead of alembic: the schema is small, migrations must run unattended on
SQLite and PostgreSQL at daemon start, and a list of functions keeps that one readable file.
Version 1 creates every table (as the models stand now); later versions append a function here, written
so that it also runs on a store version 1 has just created.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

from station.errors import StoreError
from station.store import (
    handouts,
    inventory,
    models,  # registers the tables; the v2 migration rebuilds its claim index
)

log = logging.getLogger(__name__)

Migration = Callable[[Connection], None]


def _v1_create_tables(conn: Connection) -> None:
    SQLModel.metadata.create_all(conn)


def _add_columns(conn: Connection, table: str, columns: dict[str, str]) -> None:
    """``ALTER TABLE … ADD COLUMN`` for each column the table lacks (a store made by version 1 of this list
    at this release already has them: create_all builds the current models)."""
    present = {c["name"] for c in inspect(conn).get_columns(table)}
    for name, ddl in columns.items():
        if name not in present:
            conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {name} {ddl}"))


def _v2_unresolved_rows_and_failures(conn: Connection) -> None:
    """Unresolved journal rows (why, failed checks, next check) and failed attempts per person, which the
    claim order now sorts on."""
    _add_columns(conn, "enrolment", {"unresolved": "VARCHAR(2048)", "checks": "INTEGER NOT NULL DEFAULT 0",
                                     "next_check_at": "FLOAT"})
    _add_columns(conn, "person", {"failures": "INTEGER NOT NULL DEFAULT 0"})
    conn.execute(text("DROP INDEX IF EXISTS ix_person_claim_order"))
    models.CLAIM_ORDER_INDEX.create(conn)


def _v3_pin_rules(conn: Connection) -> None:
    """What PIN rules each enrolled key got and what it could not enforce."""
    _add_columns(conn, "enrolment", {"pin_rules": "VARCHAR(512)"})


def _v4_key_inventory(conn: Connection) -> None:
    """The key inventory, filled from the journal: every finished enrolment with a passkey in Entra ID; the
    journal learns each key's serial and firmware from now on."""
    _add_columns(conn, "enrolment", {"key_serial": "VARCHAR(128)", "firmware": "VARCHAR(32)"})
    models.KeyRecord.__table__.create(conn, checkfirst=True)  # type: ignore[attr-defined]
    done = conn.execute(text("SELECT id, person_id, station_id, aaguid, model, credential_id, method_id, "
                             "key_serial, firmware, updated_at FROM enrolment WHERE state = 'done' "
                             "AND method_id IS NOT NULL ORDER BY id")).mappings().all()
    for row in done:
        inventory.record_enrolled(conn, dict(row), row["updated_at"])


def _v5_key_handouts(conn: Connection) -> None:
    """Keys handed out for self-activation, with their sealed Temporary Access Pass."""
    handouts.KeyHandout.__table__.create(conn, checkfirst=True)  # type: ignore[attr-defined]


def _v6_preferred_language(conn: Connection) -> None:
    """Each person's preferred language from Entra ID, for their PIN letter."""
    _add_columns(conn, "person", {"preferred_language": "VARCHAR(35)"})


def _v7_handout_key_preparation(conn: Connection) -> None:
    """A hand-out's key prepared at the station: how far (``key_preparation``) and its PIN, sealed to the escrow
    key (``pin_sealed``). A store version 1 or 5 has just created already has both columns."""
    present = {c["name"] for c in inspect(conn).get_columns("key_handout")}
    if "key_preparation" not in present:
        conn.execute(text("ALTER TABLE key_handout ADD COLUMN key_preparation VARCHAR(16)"))
    if "pin_sealed" not in present:
        conn.execute(text("ALTER TABLE key_handout ADD COLUMN pin_sealed TEXT"))


MIGRATIONS: list[Migration] = [_v1_create_tables, _v2_unresolved_rows_and_failures, _v3_pin_rules,
                               _v4_key_inventory, _v5_key_handouts, _v6_preferred_language,
                               _v7_handout_key_preparation]
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
