"""`station demo --stations 3 --store URL --headless`: three station daemons, each its own process with its own
virtual keys, on one PostgreSQL queue against one Entra emulator — everyone is enrolled exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter

import pytest
from pg import pg_url  # noqa: F401  (fixture)

from station.fleet import fleet_view
from station.store import open_store

pytestmark = pytest.mark.realstack

USERS = 15


def test_three_daemons_enrol_everyone_exactly_once(pg_url: str) -> None:  # noqa: F811
    env = {k: v for k, v in os.environ.items() if not k.startswith("STATION_")}
    demo = subprocess.Popen(
        [sys.executable, "-m", "station.cli", "demo", "--stations", "3", "--store", pg_url, "--headless",
         "--users", str(USERS), "--keys", "2", "--speed", "20", "--timeout", "120"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    seen_alive: set[str] = set()
    watcher = open_store(pg_url)
    try:
        while demo.poll() is None:
            for st in fleet_view(watcher).stations:
                if st.alive and st.status and st.status != "stopped":
                    seen_alive.add(st.id)
            time.sleep(0.3)
        stdout, stderr = demo.communicate(timeout=200)
    finally:
        watcher.close()
        if demo.poll() is None:
            demo.kill()
            demo.communicate()
    assert demo.returncode == 0, stdout[-3000:] + stderr[-3000:]
    assert f"enrolled: {USERS} of {USERS}" in stdout
    assert seen_alive == {"demo-1", "demo-2", "demo-3"}, "not every station was seen heartbeating"

    store = open_store(pg_url)
    try:
        people = store.queue.list()
        assert len(people) == USERS and {p.state for p in people} == {"enrolled"}
        done = [row for p in people for row in store.journal.for_person(p.id) if row.state == "done"]
        assert Counter(row.person_id for row in done) == Counter({p.id: 1 for p in people})
        assert len({row.method_id for row in done}) == USERS and None not in {row.method_id for row in done}
        assert store.journal.unfinished() == []
        view = fleet_view(store)
        assert sorted(s.id for s in view.stations) == ["demo-1", "demo-2", "demo-3"]
        assert {s.status for s in view.stations} == {"stopped"}
        assert len({row.station_id for row in done}) >= 2, "one station did all the work"
    finally:
        store.close()
