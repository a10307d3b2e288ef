"""Schema versioning: an ordered list of migrations applied at start, recorded in ``meta``.

A hand-rolled scheme instead of alembic: the schema is small, migrations must run unattended on
SQLite and PostgreSQL at daemon start, and a list of functions keeps that one readable file.

Every version's DDL is frozen here as the SQL it ran when it was released: version 1 creates the tables of
the first released schema, each later version alters them. A new store runs them all, an old one the versions
it lacks, so both end with the same schema. Nothing here reads the live models: a change to
station/store/models.py needs a new version appended here (tests/integration/test_store_schema.py fails
until the two agree). The SQL is the same on both databases but for the type of an auto-numbered key.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from station.errors import StoreError

log = logging.getLogger(__name__)

Migration = Callable[[Connection], None]

# The type of an auto-numbered primary key: SQLite numbers an INTEGER PRIMARY KEY itself.
_SERIAL = {"sqlite": "INTEGER", "postgresql": "SERIAL"}


def _run(conn: Connection, statements: Sequence[str]) -> None:
    serial = _SERIAL[conn.dialect.name]
    for statement in statements:
        conn.execute(text(statement.replace("{serial}", serial)))


_V1 = (
    """CREATE TABLE audit_event (
        id {serial} NOT NULL, at FLOAT NOT NULL, station_id VARCHAR(64) NOT NULL, person_id INTEGER,
        enrolment_id INTEGER, kind VARCHAR(64) NOT NULL, detail VARCHAR NOT NULL,
        PRIMARY KEY (id))""",
    "CREATE INDEX ix_audit_event_at ON audit_event (at)",
    "CREATE INDEX ix_audit_event_enrolment_id ON audit_event (enrolment_id)",
    "CREATE INDEX ix_audit_event_person_id ON audit_event (person_id)",
    """CREATE TABLE meta (
        "key" VARCHAR(64) NOT NULL, value VARCHAR NOT NULL,
        PRIMARY KEY ("key"))""",
    """CREATE TABLE person (
        id {serial} NOT NULL, object_id VARCHAR(64), upn VARCHAR(320) NOT NULL, display_name VARCHAR(256) NOT NULL,
        source VARCHAR(32) NOT NULL, priority INTEGER NOT NULL, state VARCHAR(16) NOT NULL, attempts INTEGER NOT NULL,
        lease_station VARCHAR(64), lease_expires FLOAT, note VARCHAR(1024) NOT NULL, created_at FLOAT NOT NULL,
        updated_at FLOAT NOT NULL,
        PRIMARY KEY (id))""",
    "CREATE INDEX ix_person_claim_order ON person (state, priority DESC, id)",
    "CREATE INDEX ix_person_lease_expires ON person (lease_expires)",
    "CREATE UNIQUE INDEX ix_person_object_id ON person (object_id)",
    "CREATE INDEX ix_person_priority ON person (priority)",
    "CREATE INDEX ix_person_state ON person (state)",
    "CREATE UNIQUE INDEX ix_person_upn ON person (upn)",
    """CREATE TABLE station (
        id VARCHAR(64) NOT NULL, name VARCHAR(128) NOT NULL, host VARCHAR(256) NOT NULL, version VARCHAR(32) NOT NULL,
        started_at FLOAT NOT NULL, heartbeat_at FLOAT NOT NULL, status VARCHAR(256) NOT NULL,
        slots_json VARCHAR NOT NULL,
        PRIMARY KEY (id))""",
    """CREATE TABLE enrolment (
        id {serial} NOT NULL, person_id INTEGER NOT NULL, station_id VARCHAR(64) NOT NULL, slot VARCHAR(256) NOT NULL,
        transport VARCHAR(16) NOT NULL, key_fingerprint VARCHAR(256) NOT NULL, aaguid VARCHAR(36) NOT NULL,
        model VARCHAR(128) NOT NULL, state VARCHAR(24) NOT NULL, credential_id VARCHAR(1024),
        attestation_object VARCHAR, client_data_json VARCHAR, display_name VARCHAR(64), method_id VARCHAR(1024),
        pin_escrow VARCHAR, error_reason VARCHAR(64), error_message VARCHAR(2048), lease_expires FLOAT,
        created_at FLOAT NOT NULL, updated_at FLOAT NOT NULL,
        PRIMARY KEY (id),
        FOREIGN KEY(person_id) REFERENCES person (id))""",
    "CREATE INDEX ix_enrolment_created_at ON enrolment (created_at)",
    "CREATE INDEX ix_enrolment_person_id ON enrolment (person_id)",
    "CREATE INDEX ix_enrolment_state ON enrolment (state)",
    "CREATE INDEX ix_enrolment_station_id ON enrolment (station_id)",
    """CREATE TABLE keyassignment (
        key_identity VARCHAR(256) NOT NULL, person_id INTEGER NOT NULL, created_at FLOAT NOT NULL,
        PRIMARY KEY (key_identity),
        FOREIGN KEY(person_id) REFERENCES person (id))""",
    "CREATE INDEX ix_keyassignment_person_id ON keyassignment (person_id)",
)


def _v1_create_tables(conn: Connection) -> None:
    """The first released schema: the queue, key pre-assignments, the journal, stations, audit, metadata."""
    _run(conn, _V1)


def _v2_unresolved_rows_and_failures(conn: Connection) -> None:
    """Unresolved journal rows (why, failed checks, next check) and failed attempts per person, which the
    claim order now sorts on. (A store made before the claim index existed has none to drop.)"""
    _run(conn, ("ALTER TABLE enrolment ADD COLUMN unresolved VARCHAR(2048)",
                "ALTER TABLE enrolment ADD COLUMN checks INTEGER NOT NULL DEFAULT 0",
                "ALTER TABLE enrolment ADD COLUMN next_check_at FLOAT",
                "ALTER TABLE person ADD COLUMN failures INTEGER NOT NULL DEFAULT 0",
                "DROP INDEX IF EXISTS ix_person_claim_order",
                "CREATE INDEX ix_person_claim_order ON person (state, priority DESC, failures, id)"))


def _v3_pin_rules(conn: Connection) -> None:
    """What PIN rules each enrolled key got and what it could not enforce."""
    _run(conn, ("ALTER TABLE enrolment ADD COLUMN pin_rules VARCHAR(512)",))


_V4 = (
    "ALTER TABLE enrolment ADD COLUMN key_serial VARCHAR(128)",
    "ALTER TABLE enrolment ADD COLUMN firmware VARCHAR(32)",
    """CREATE TABLE key_record (
        id {serial} NOT NULL, enrolment_id INTEGER NOT NULL, identity VARCHAR(256) NOT NULL, serial VARCHAR(128),
        aaguid VARCHAR(36) NOT NULL, model VARCHAR(128) NOT NULL, firmware VARCHAR(32) NOT NULL,
        person_id INTEGER NOT NULL, method_id VARCHAR(1024), credential_id VARCHAR(1024),
        station_id VARCHAR(64) NOT NULL, state VARCHAR(16) NOT NULL, reason VARCHAR(32), enrolled_at FLOAT NOT NULL,
        revoked_at FLOAT, updated_at FLOAT NOT NULL,
        PRIMARY KEY (id),
        UNIQUE (enrolment_id),
        FOREIGN KEY(enrolment_id) REFERENCES enrolment (id),
        FOREIGN KEY(person_id) REFERENCES person (id))""",
    "CREATE INDEX ix_key_record_identity ON key_record (identity)",
    "CREATE INDEX ix_key_record_person_id ON key_record (person_id)",
    "CREATE INDEX ix_key_record_serial ON key_record (serial)",
    "CREATE INDEX ix_key_record_state ON key_record (state)",
)
_V4_DONE = text("SELECT id, person_id, station_id, aaguid, model, credential_id, method_id, updated_at "
                "FROM enrolment WHERE state = 'done' AND method_id IS NOT NULL ORDER BY id")
_V4_RECORD = text(
    "INSERT INTO key_record (enrolment_id, identity, serial, aaguid, model, firmware, person_id, method_id, "
    "credential_id, station_id, state, enrolled_at, updated_at) VALUES (:id, :identity, NULL, :aaguid, :model, '', "
    ":person_id, :method_id, :credential_id, :station_id, 'active', :updated_at, :updated_at)")


def _v4_key_inventory(conn: Connection) -> None:
    """The key inventory, filled from the journal: every finished enrolment with a passkey in Entra ID; the
    journal learns each key's serial and firmware from now on (so the rows filled here have neither, and
    their identity is a fingerprint of the passkey, as station.store.inventory.identity_for makes it)."""
    _run(conn, _V4)
    for row in conn.execute(_V4_DONE).mappings().all():
        fingerprint = hashlib.sha256((row["credential_id"] or "").encode()).hexdigest()[:16]
        conn.execute(_V4_RECORD, {**row, "identity": f"fp:{fingerprint}", "aaguid": row["aaguid"] or "",
                                  "model": row["model"] or "", "station_id": row["station_id"] or ""})


def _v5_key_handouts(conn: Connection) -> None:
    """Keys handed out for self-activation, with their sealed Temporary Access Pass."""
    _run(conn, ("""CREATE TABLE key_handout (
        id {serial} NOT NULL, person_id INTEGER NOT NULL, key_serial VARCHAR(128), aaguid VARCHAR(36) NOT NULL,
        model VARCHAR(128) NOT NULL, state VARCHAR(16) NOT NULL, tap_method_id VARCHAR(256), tap_sealed VARCHAR,
        tap_start FLOAT, tap_expires_at FLOAT, tap_usable_once BOOLEAN NOT NULL, method_id VARCHAR(1024),
        station_id VARCHAR(64) NOT NULL, note VARCHAR(512) NOT NULL, handed_out_at FLOAT NOT NULL,
        updated_at FLOAT NOT NULL,
        PRIMARY KEY (id),
        FOREIGN KEY(person_id) REFERENCES person (id))""",
                "CREATE INDEX ix_key_handout_person_id ON key_handout (person_id)",
                "CREATE INDEX ix_key_handout_state ON key_handout (state)"))


def _v6_preferred_language(conn: Connection) -> None:
    """Each person's preferred language from Entra ID, for their PIN letter."""
    _run(conn, ("ALTER TABLE person ADD COLUMN preferred_language VARCHAR(35)",))


def _v7_handout_key_preparation(conn: Connection) -> None:
    """A hand-out's key prepared at the station: how far (``key_preparation``) and its PIN, sealed to the escrow
    key (``pin_sealed``)."""
    _run(conn, ("ALTER TABLE key_handout ADD COLUMN key_preparation VARCHAR(16)",
                "ALTER TABLE key_handout ADD COLUMN pin_sealed VARCHAR"))


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
