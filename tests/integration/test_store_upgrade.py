"""A store written by the first release (schema version 1) upgrades in place at start, on SQLite and on
PostgreSQL: nothing is lost, the added columns take their defaults, the claim order uses the failure count and the
key inventory is filled from the finished enrolments."""

from __future__ import annotations

from pathlib import Path

import pytest
from pg import pg_url  # noqa: F401  (fixture)
from sqlalchemy import text
from support.store_schema import make_store_at

from station.store import NewPerson, open_store
from station.store.engine import make_engine
from station.store.inventory import identity_for
from station.store.migrations import SCHEMA_VERSION, migrate

T = 1_700_000_000.0
PEOPLE = text("INSERT INTO person (upn, display_name, source, priority, state, attempts, lease_station, "
              "lease_expires, note, created_at, updated_at) VALUES (:upn, :name, 'manual', 0, :state, :attempts, "
              ":station, :expires, '', :t, :t)")
JOURNAL = text("INSERT INTO enrolment (person_id, station_id, slot, transport, key_fingerprint, aaguid, model, state, "
               "credential_id, method_id, created_at, updated_at) SELECT id, 'st-old', :slot, 'usb', '', :aaguid, "
               ":model, :state, :credential, :method, :t, :t FROM person WHERE upn = :upn")


def _version_1_store(url: str) -> None:
    """A store as the first release left it: Ann claimed with a journal row open, Bo queued, Cy enrolled."""
    engine = make_engine(url)
    try:
        make_store_at(engine, 1)
        with engine.begin() as conn:
            conn.execute(PEOPLE, [
                {"upn": "ann@x.com", "name": "Ann", "state": "claimed", "attempts": 1, "station": "st-old",
                 "expires": T + 600, "t": T},
                {"upn": "bo@x.com", "name": "Bo", "state": "queued", "attempts": 0, "station": None, "expires": None,
                 "t": T + 1},
                {"upn": "cy@x.com", "name": "Cy", "state": "enrolled", "attempts": 1, "station": None,
                 "expires": None, "t": T + 2}])
            conn.execute(JOURNAL, [
                {"upn": "ann@x.com", "slot": "Virtual 1", "aaguid": "", "model": "", "state": "claimed",
                 "credential": None, "method": None, "t": T},
                {"upn": "cy@x.com", "slot": "USB 1", "aaguid": "ee882879-721c-4913-9775-3dfcce97072a",
                 "model": "YubiKey 5 NFC", "state": "done", "credential": "Y3JlZA", "method": "m-cy", "t": T + 3}])
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.realstack)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'station.db'}"
    return str(request.getfixturevalue("pg_url"))


def test_a_version_1_store_upgrades_and_keeps_its_data(url: str) -> None:
    _version_1_store(url)
    store = open_store(url, "st-new")
    try:
        assert migrate(store.engine) == SCHEMA_VERSION
        assert store.meta.get("schema_version") == str(SCHEMA_VERSION)
        (row,) = store.journal.unfinished()
        assert (row.station_id, row.state, row.unresolved, row.checks, row.pin_rules) == (
            "st-old", "claimed", None, 0, None)
        ann = store.queue.get("ann@x.com")
        assert (ann.state, ann.lease_station, ann.failures, ann.preferred_language) == ("claimed", "st-old", 0, None)
        assert store.queue.get("bo@x.com").state == "queued"
        store.queue.add_people([NewPerson("dee@x.com", "Dee")])
        assert [p.upn for p in store.queue.peek_next(5)] == ["bo@x.com", "dee@x.com"]
        (key,) = store.inventory.find()
        assert (key.upn, key.state, key.method_id, key.model, key.station_id, key.serial, key.firmware) == (
            "cy@x.com", "active", "m-cy", "YubiKey 5 NFC", "st-old", None, "")
        assert key.identity == identity_for(None, "Y3JlZA")
        assert store.handouts.find() == []
    finally:
        store.close()
