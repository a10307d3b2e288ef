"""SQLModel tables: the queue of people, key pre-assignments, the enrolment journal, stations, audit, metadata.

Times are UNIX seconds (float) so that leases compare the same way on SQLite and PostgreSQL.
No table holds a PIN, token or secret in plaintext: ``Enrolment.pin_escrow`` is ciphertext sealed to the
operator's escrow public key.
The tables are made by station/store/migrations.py, never from these classes: a change here needs a migration
there (tests/integration/test_store_schema.py compares the two).
"""

from __future__ import annotations

import time

from sqlalchemy import Index, text
from sqlmodel import Field, SQLModel, col

from station.states import JournalState, KeyState, PersonState

__all__ = ["JournalState", "KeyState", "PersonState"]


def now() -> float:
    return time.time()


TERMINAL_JOURNAL_STATES = [s.value for s in JournalState if s.terminal]


class Person(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    object_id: str | None = Field(default=None, unique=True, index=True, max_length=64)
    upn: str = Field(unique=True, index=True, max_length=320)
    display_name: str = Field(default="", max_length=256)
    # Entra ID's preferredLanguage (a BCP 47 tag such as "de-DE"): the language of the person's PIN letter.
    preferred_language: str | None = Field(default=None, max_length=35)
    source: str = Field(default="manual", max_length=32)
    priority: int = Field(default=0, index=True)
    state: str = Field(default=PersonState.QUEUED.value, index=True, max_length=16)
    attempts: int = 0
    # Failed attempts counted towards enrolment.max_attempts; the claim order puts people who failed behind
    # those not yet tried.
    failures: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})
    lease_station: str | None = Field(default=None, max_length=64)
    lease_expires: float | None = Field(default=None, index=True)
    note: str = Field(default="", max_length=1024)
    created_at: float = Field(default_factory=now)
    updated_at: float = Field(default_factory=now)


# The claim query walks this index: queued people by priority (high first), then fewest failed attempts,
# then import order. (Registered on the table: the schema test compares the models with the migrations.)
Index("ix_person_claim_order", col(Person.state), col(Person.priority).desc(),
      col(Person.failures), col(Person.id))


class KeyAssignment(SQLModel, table=True):
    """A key identity (serial or fingerprint) pre-assigned to a person."""

    key_identity: str = Field(primary_key=True, max_length=256)
    person_id: int = Field(foreign_key="person.id", index=True)
    created_at: float = Field(default_factory=now)


class Enrolment(SQLModel, table=True):
    """The write-ahead journal of one key being enrolled for one person."""

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    station_id: str = Field(index=True, max_length=64)
    slot: str = Field(default="", max_length=256)
    transport: str = Field(default="", max_length=16)
    key_fingerprint: str = Field(default="", max_length=256)
    aaguid: str = Field(default="", max_length=36)
    model: str = Field(default="", max_length=128)
    state: str = Field(default=JournalState.CLAIMED.value, index=True, max_length=24)
    credential_id: str | None = Field(default=None, max_length=1024)
    attestation_object: str | None = None
    client_data_json: str | None = None
    display_name: str | None = Field(default=None, max_length=64)
    method_id: str | None = Field(default=None, max_length=1024)
    pin_escrow: str | None = None
    error_reason: str | None = Field(default=None, max_length=64)
    error_message: str | None = Field(default=None, max_length=2048)
    lease_expires: float | None = None
    # A row whose Entra outcome could not be learnt yet: why, how many checks failed, when to ask again.
    unresolved: str | None = Field(default=None, max_length=2048)
    # The PIN rules the key got, and those it could not enforce (pin_rules.PinRules.summary).
    pin_rules: str | None = Field(default=None, max_length=512)
    # The serial printed on the key (or its USB serial) where the key tells it, and its firmware version.
    key_serial: str | None = Field(default=None, max_length=128)
    firmware: str | None = Field(default=None, max_length=32)
    checks: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})
    next_check_at: float | None = None
    created_at: float = Field(default_factory=now, index=True)
    updated_at: float = Field(default_factory=now)


class KeyRecord(SQLModel, table=True):
    """The inventory: one row per key Station enrolled (written with the enrolment's ``done``), and what
    has become of it since. ``identity`` is the key's serial, else a fingerprint of its passkey."""

    __tablename__ = "key_record"

    id: int | None = Field(default=None, primary_key=True)
    enrolment_id: int = Field(foreign_key="enrolment.id", unique=True)
    identity: str = Field(index=True, max_length=256)
    serial: str | None = Field(default=None, index=True, max_length=128)
    aaguid: str = Field(default="", max_length=36)
    model: str = Field(default="", max_length=128)
    firmware: str = Field(default="", max_length=32)
    person_id: int = Field(foreign_key="person.id", index=True)
    method_id: str | None = Field(default=None, max_length=1024)
    credential_id: str | None = Field(default=None, max_length=1024)
    station_id: str = Field(default="", max_length=64)
    state: str = Field(default=KeyState.ACTIVE.value, index=True, max_length=16)
    reason: str | None = Field(default=None, max_length=32)
    enrolled_at: float = Field(default_factory=now)
    revoked_at: float | None = None
    updated_at: float = Field(default_factory=now)


class StationRecord(SQLModel, table=True):
    __tablename__ = "station"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(default="", max_length=128)
    host: str = Field(default="", max_length=256)
    version: str = Field(default="", max_length=32)
    started_at: float = Field(default_factory=now)
    heartbeat_at: float = Field(default_factory=now)
    status: str = Field(default="", max_length=256)
    slots_json: str = "[]"


class AuditEvent(SQLModel, table=True):
    """Append-only. Never holds a secret."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: float = Field(default_factory=now, index=True)
    station_id: str = Field(default="", max_length=64)
    person_id: int | None = Field(default=None, index=True)
    enrolment_id: int | None = Field(default=None, index=True)
    kind: str = Field(max_length=64)
    detail: str = "{}"


class Meta(SQLModel, table=True):
    """Small key/value facts: the schema version, the directory deltaLink."""

    key: str = Field(primary_key=True, max_length=64)
    value: str = ""
