"""A station that stopped cleanly is never shown alive: its last heartbeat, written as it stops, is recent,
so by age alone `station fleet` and the fleet screen called it alive for a minute after it had gone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_harness import kill, start_daemon, write_config

from station.tui.widgets.fleet_table import station_row
from station_emulator.entra import EntraEmulator


@pytest.fixture(scope="module")
def emu() -> Iterator[EntraEmulator]:
    with EntraEmulator(users=2, seed=9) as e:
        yield e


def test_a_cleanly_stopped_station_is_stopped_not_alive(emu: EntraEmulator, tmp_path: Path) -> None:
    daemon = start_daemon(write_config(emu, tmp_path), station_id="desk-1")
    try:
        (running,) = json.loads(daemon.station("fleet", "--json").stdout)["stations"]
        assert running["state"] == "alive"
        assert daemon.stop() == 0
        listed = daemon.station("fleet", "--json")
        (stopped,) = json.loads(listed.stdout)["stations"]
        assert stopped["heartbeat_age"] < 60, "its last heartbeat is recent"
        assert stopped["state"] == "stopped"
        text = daemon.station("fleet").stdout
        assert text.startswith("desk-1") and " stopped " in text.splitlines()[0] and " alive " not in text
        cells = " ".join(cell.plain for cell in station_row(stopped))
        assert "■ stopped" in cells and "alive" not in cells
    finally:
        kill(daemon)
