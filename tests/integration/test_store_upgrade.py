"""A store written by the previous release (schema version 1) upgrades in place at start, on SQLite and on
PostgreSQL: the columns for unresolved enrolments, failed attempts and PIN rules are added, nothing is lost, and the
claim order uses the failure count."""

from __future__ import annotations

from pathlib import Path

import pytest
from pg import pg_url  # noqa: F401  (fixture)
from sqlalchemy import text

from station.store import NewPerson, open_store
from station.store.migrations import SCHEMA_VERSION, migrate

# What version 2 added; the previous release's tables lack these (and its claim index ends with the id).
ADDED = {"enrolment": ("unresolved", "checks", "next_check_at", "pin_rules"), "person": ("failures",)}


def _as_version_1(url: str) -> None:
    """A store with people and a journal row, then put back to the previous release's schema."""
    store = open_store(url, "st-old")
    try:
        store.queue.add_people([NewPerson("ann@x.com", "Ann"), NewPerson("bo@x.com", "Bo")])
        person = store.queue.claim_next("st-old", 600)
        assert person is not None
        store.journal.open(person.id, "st-old", slot="Virtual 1")
        with store.engine.begin() as conn:
            conn.execute(text("DROP INDEX ix_person_claim_order"))
            for table, columns in ADDED.items():
                for column in columns:
                    conn.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))
            conn.execute(text("CREATE INDEX ix_person_claim_order ON person (state, priority DESC, id)"))
            conn.execute(text("UPDATE meta SET value = '1' WHERE key = 'schema_version'"))
    finally:
        store.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.realstack)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'station.db'}"
    return str(request.getfixturevalue("pg_url"))


def test_a_version_1_store_upgrades_and_keeps_its_data(url: str) -> None:
    _as_version_1(url)
    store = open_store(url, "st-new")
    try:
        assert migrate(store.engine) == SCHEMA_VERSION
        with store.engine.connect() as conn:
            version = conn.execute(text("SELECT value FROM meta WHERE key = 'schema_version'")).scalar_one()
        assert version == str(SCHEMA_VERSION)
        (row,) = store.journal.unfinished()
        assert (row.station_id, row.state, row.unresolved, row.checks) == ("st-old", "claimed", None, 0)
        assert store.queue.get("ann@x.com").state == "claimed"
        assert store.queue.get("bo@x.com").state == "queued"
        store.queue.add_people([NewPerson("cy@x.com", "Cy")])
        assert [p.upn for p in store.queue.peek_next(5)] == ["bo@x.com", "cy@x.com"]
    finally:
        store.close()
