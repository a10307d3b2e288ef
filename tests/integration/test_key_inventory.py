"""The key inventory: every enrolled key is in it (written with the enrolment's completion), and a store made
before the inventory existed gets it filled from the journal. Real SQLite (and PostgreSQL), the Entra emulator
over HTTPS, virtual keys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from enrol_harness import build_station
from pg import pg_url  # noqa: F401  (fixture)
from sqlalchemy import text
from support.store_schema import make_store_at

from station.events import EnrolmentDone
from station.store import open_store
from station.store.engine import make_engine
from station.store.inventory import identity_for
from station.store.migrations import SCHEMA_VERSION
from station_emulator.entra import EntraEmulator
from station_emulator.key import VirtualKey


@pytest.fixture(scope="module")
def emu() -> Iterator[EntraEmulator]:
    with EntraEmulator(users=10, seed=17) as e:
        yield e


def test_every_enrolled_key_is_in_the_inventory_with_its_holder(emu: EntraEmulator, tmp_path: Path) -> None:
    station = build_station(emu, tmp_path, prefetch=0)
    try:
        users = station.queue_users(2)
        station.keys.insert(VirtualKey("yubikey5-5.7"))
        station.events.wait_for(EnrolmentDone)
        station.keys.insert(VirtualKey("fido21"))
        station.wait(lambda: len(station.events.of(EnrolmentDone)) == 2)
        keys = station.store.inventory.find()
        assert len(keys) == 2
        by_upn = {k.upn: k for k in keys}
        assert set(by_upn) == {u["userPrincipalName"] for u in users}
        for user in users:
            key = by_upn[user["userPrincipalName"]]
            (method,) = emu.tenant.methods_of(user["id"])
            assert (key.state, key.method_id, key.station_id) == ("active", method.id, "station-1")
            assert key.object_id == user["id"] and key.display_name == user["displayName"]
            assert key.credential_id and key.aaguid == method.aaguid
            assert key.identity == identity_for(key.serial, key.credential_id)
        yubikey = next(k for k in keys if k.model.startswith("YubiKey"))
        assert yubikey.firmware.startswith("5.7.")
    finally:
        station.close()


def _as_version_3(url: str) -> None:
    """A store as version 3 (before the inventory) left it: Ann's enrolment done, Bo's failed."""
    engine = make_engine(url)
    try:
        make_store_at(engine, 3)
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO person (upn, display_name, source, priority, state, attempts, note, "
                              "created_at, updated_at) VALUES (:upn, :upn, 'manual', 0, :state, 1, '', 1, 1)"),
                         [{"upn": "ann@x.com", "state": "enrolled"}, {"upn": "bo@x.com", "state": "failed"}])
            conn.execute(text("INSERT INTO enrolment (person_id, station_id, slot, transport, key_fingerprint, "
                              "aaguid, model, state, credential_id, method_id, created_at, updated_at) "
                              "SELECT id, 'st-old', :slot, 'usb', '', :aaguid, :model, :state, :credential, :method, "
                              "2, 2 FROM person WHERE upn = :upn"), [
                {"upn": "ann@x.com", "slot": "USB 1", "aaguid": "ee882879-721c-4913-9775-3dfcce97072a",
                 "model": "YubiKey 5 NFC", "state": "done", "credential": "Y3JlZA", "method": "m-ann"},
                {"upn": "bo@x.com", "slot": "USB 2", "aaguid": "", "model": "", "state": "failed", "credential": None,
                 "method": None}])
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.realstack)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'station.db'}"
    return str(request.getfixturevalue("pg_url"))


def test_a_store_from_before_the_inventory_gets_it_filled_from_the_journal(url: str) -> None:
    _as_version_3(url)
    store = open_store(url, "st-new")
    try:
        with store.engine.connect() as conn:
            assert conn.execute(text("SELECT value FROM meta WHERE key = 'schema_version'")).scalar_one() \
                == str(SCHEMA_VERSION)
        (key,) = store.inventory.find()
        assert (key.upn, key.state, key.method_id, key.model, key.station_id) == (
            "ann@x.com", "active", "m-ann", "YubiKey 5 NFC", "st-old")
        assert key.identity == identity_for(None, "Y3JlZA") and key.serial is None
    finally:
        store.close()
