"""`station fleet [--json]` and `--store URL` as an operator runs them, against a real PostgreSQL store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from pg import pg_url  # noqa: F401  (fixture)
from sqlalchemy import text

from station.fleet import fleet_view
from station.store import NewPerson, open_store

pytestmark = pytest.mark.realstack


def station(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STATION_")}
    return subprocess.run([sys.executable, "-m", "station.cli", *args], capture_output=True, text=True,
                          timeout=60, env=env, check=False)


def test_fleet_shows_every_station_alive_or_stale(pg_url: str) -> None:  # noqa: F811
    store = open_store(pg_url, "kiosk-1")
    store.queue.add_people([NewPerson(f"u{i}@x.com") for i in range(5)])
    person = store.queue.claim_next("pi-2", 600)
    assert person is not None
    store.journal.open(person.id, "pi-2", slot="usb-1", lease_expires=time.time() - 3600)
    store.stations.register("kiosk-1", "Front desk")
    store.stations.heartbeat("kiosk-1", "working · 4 queued", [
        {"slot": "usb-1-2", "transport": "usb", "step": "touch", "model": "YubiKey 5", "upn": "u1@x.com",
         "enrolment_id": 7, "fingerprint": "hidden"}])
    store.stations.register("pi-2", "Lab")
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE station SET heartbeat_at = :t WHERE id = 'pi-2'"), {"t": time.time() - 600})
    store.close()

    out = station("fleet", "--json", "--store", pg_url)
    assert out.returncode == 0, out.stderr
    view = json.loads(out.stdout)
    by_id = {s["id"]: s for s in view["stations"]}
    assert by_id["kiosk-1"]["state"] == "alive" and by_id["kiosk-1"]["heartbeat_age"] < 30
    assert by_id["kiosk-1"]["slots"] == [{"slot": "usb-1-2", "transport": "usb", "step": "touch",
                                          "model": "YubiKey 5", "upn": "u1@x.com", "enrolment_id": 7}]
    assert by_id["kiosk-1"]["version"] and by_id["kiosk-1"]["name"] == "Front desk"
    assert by_id["pi-2"]["state"] == "stale" and by_id["pi-2"]["heartbeat_age"] >= 600
    assert by_id["pi-2"]["unfinished"] == 1
    assert view["queue"] == {"queued": 4, "claimed": 1, "enrolled": 0, "failed": 0, "skipped": 0}

    text_out = station("--store", pg_url, "fleet")
    assert text_out.returncode == 0, text_out.stderr
    lines = text_out.stdout.splitlines()
    assert lines[0].startswith("kiosk-1") and " alive " in lines[0] and "1 slot(s) busy" in lines[0]
    assert "usb-1-2: touch  u1@x.com" in lines[1]
    assert lines[2].startswith("pi-2") and " stale " in lines[2] and "1 unfinished" in lines[2]
    assert lines[-3] == "queue: 4 queued, 1 claimed, 0 enrolled, 0 failed, 0 skipped"
    assert lines[-2] == "rollout: 0 of 5 done (0%) · 1 in progress · 4 waiting · 0 failed"
    assert lines[-1].endswith("0% · pace 0 per hour (last 15 min) · no finish estimate until keys are done")

    store = open_store(pg_url)
    assert [s.state for s in fleet_view(store, stale_after=3600).stations] == ["alive", "alive"]
    store.close()


def test_store_option_reaches_postgresql_before_or_after_the_command(pg_url: str) -> None:  # noqa: F811
    added = station("queue", "add", "--upn", "Kim@contoso.com", "--key-serial", "SN-1", "--store", pg_url)
    assert added.returncode == 0, added.stderr
    assert station("--store", pg_url, "queue", "add", "--upn", "lee@contoso.com").returncode == 0
    listed = station("queue", "list", "--json", "--store", pg_url)
    assert listed.returncode == 0, listed.stderr
    assert sorted(p["upn"] for p in json.loads(listed.stdout)) == ["kim@contoso.com", "lee@contoso.com"]
    bad = station("fleet", "--store", "postgresql://postgres@127.0.0.1:1/none")
    assert bad.returncode != 0 and "cannot open the store" in bad.stderr
