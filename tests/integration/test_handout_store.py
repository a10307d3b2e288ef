"""The hand-out records on SQLite and PostgreSQL: a new hand-out replaces the person's waiting or expired one,
settling moves only a waiting one and drops its sealed TAP, nothing read out for display carries it, and the
daemon's status counts delegated keys apart."""

from __future__ import annotations

from pathlib import Path

import pytest
from pg import pg_url
from sqlalchemy import text

from station.status import EntraMeter, StatusBoard
from station.store import NewPerson, open_store
from station.store.handouts import HandoutState, KeyPreparation
from station.store.migrations import SCHEMA_VERSION

__all__ = ["pg_url"]


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'station.db'}"
    return str(request.getfixturevalue("pg_url"))


def test_handouts_replace_settle_and_count(store_url: str) -> None:
    store = open_store(store_url, "desk-1")
    try:
        store.queue.add_people([NewPerson(upn="ann@contoso.example", object_id="o-ann"),
                                NewPerson(upn="bo@contoso.example", object_id="o-bo")])
        ann, bo = store.queue.get("ann@contoso.example"), store.queue.get("bo@contoso.example")
        handouts = store.handouts
        first = handouts.start(ann.id, key_serial="1", aaguid="a", model="M", station_id="desk-1")
        handouts.set_tap(first, method_id="t1", sealed="x25519:v1:AAAA", start=100.0, expires_at=3700.0,
                         usable_once=True)
        second = handouts.start(ann.id, key_serial="2", aaguid="a", model="M", station_id="desk-1")
        other = handouts.start(bo.id, key_serial=None, aaguid="", model="", station_id="desk-1")
        assert handouts.get(first).state == HandoutState.REPLACED and handouts.get(first).tap_sealed is None
        assert [h.id for h in handouts.find(HandoutState.HANDED_OUT)] == [second, other]

        handouts.settle(other, HandoutState.EXPIRED, note="the TAP expired unused")
        handouts.settle(other, HandoutState.ACTIVE, method_id="m")
        assert handouts.get(other).state == HandoutState.EXPIRED, "only a waiting hand-out is settled"
        third = handouts.start(bo.id, key_serial=None, aaguid="", model="", station_id="desk-1")
        assert handouts.get(other).state == HandoutState.REPLACED, "handing out again clears an expired one"

        handouts.set_tap(second, method_id="t2", sealed="x25519:v1:BBBB", start=200.0, expires_at=3800.0,
                         usable_once=False)
        waiting = handouts.get(second)
        assert waiting.tap_sealed == "x25519:v1:BBBB" and not waiting.tap_usable_once
        assert "tap_sealed" not in waiting.to_dict() and waiting.to_dict()["upn"] == "ann@contoso.example"
        handouts.settle(second, HandoutState.ACTIVE, method_id="m-2", note="passkey registered")
        done = handouts.get(second)
        assert done.state == HandoutState.ACTIVE and done.method_id == "m-2" and done.tap_sealed is None
        assert handouts.counts() == {"replaced": 2, "active": 1, "handed_out": 1}
        assert handouts.get(third).state == HandoutState.HANDED_OUT
        status = StatusBoard(station_id="desk-1", station_name="Desk", store=store, engine=None,
                                health=EntraMeter(), watchers=[]).snapshot()
        assert status["delegated"] == {"handed_out": 1, "active": 1, "expired": 0}
        assert status["summary"].endswith("delegated: 1 handed out, 1 activated, 0 expired")
    finally:
        store.close()


def test_a_store_of_version_6_gains_key_preparation_and_a_handout_waits_for_its_key(store_url: str) -> None:
    store = open_store(store_url, "desk-1")
    try:
        store.queue.add_people([NewPerson(upn="ann@contoso.example", object_id="o-ann")])
        ann = store.queue.get("ann@contoso.example")
        before = store.handouts.start(ann.id, key_serial="1", aaguid="a", model="M", station_id="desk-1")
        with store.engine.begin() as conn:  # the previous release's table
            for column in ("key_preparation", "pin_sealed"):
                conn.execute(text(f"ALTER TABLE key_handout DROP COLUMN {column}"))
            conn.execute(text("UPDATE meta SET value = '6' WHERE key = 'schema_version'"))
    finally:
        store.close()
    store = open_store(store_url, "desk-1")
    try:
        with store.engine.connect() as conn:
            assert conn.execute(text("SELECT value FROM meta WHERE key = 'schema_version'")).scalar_one() == \
                str(SCHEMA_VERSION) == "7"
        handouts = store.handouts
        assert handouts.get(before).key_preparation is None and handouts.waiting_for_key("desk-1") == []
        prepared = handouts.start(ann.id, key_serial="7", aaguid="", model="", station_id="desk-1",
                                  prepare_key=True)
        assert [h.id for h in handouts.waiting_for_key("desk-1")] == [prepared]
        assert handouts.waiting_for_key("desk-2") == [], "a key is prepared at the station the hand-out names"
        aaguid = "CB69481E-8FF7-4039-93EC-0A2729A154A8"
        assert handouts.pin_escrowed(prepared, sealed="x25519:v1:CCCC", key_serial=None, aaguid=aaguid, model="K")
        row = handouts.get(prepared)
        assert (row.key_preparation, row.pin_sealed, row.key_serial, row.aaguid, row.model) == (
            KeyPreparation.PIN_ESCROWED, "x25519:v1:CCCC", "7", aaguid.lower(), "K")
        assert "pin_sealed" not in row.to_dict() and row.to_dict()["key_preparation"] == "pin_escrowed"
        assert [h.id for h in handouts.waiting_for_key("desk-1")] == [prepared], "not prepared until confirmed"
        handouts.key_prepared(prepared)
        assert handouts.get(prepared).key_preparation == KeyPreparation.PREPARED
        assert handouts.waiting_for_key("desk-1") == []
        again = handouts.start(ann.id, key_serial=None, aaguid="", model="", station_id="desk-1", prepare_key=True)
        assert handouts.get(prepared).state == HandoutState.REPLACED
        assert handouts.get(prepared).pin_sealed == "x25519:v1:CCCC", "the key's PIN stays in escrow"
        assert not handouts.pin_escrowed(prepared, sealed="x", key_serial=None, aaguid="", model=""), \
            "a replaced hand-out takes no key"
        assert [h.id for h in handouts.waiting_for_key("desk-1")] == [again]
    finally:
        store.close()
