"""`station status` speaks the station's language: a daemon whose [station] language is German says its status
in German — the summary line it composes, and the lines `station status` adds — even to a command that reads
no configuration (--socket), because the status snapshot carries the language."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from daemon_harness import DaemonProcess, daemon_with_queue


@pytest.fixture(scope="module")
def german(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    with daemon_with_queue(tmp_path_factory.mktemp("german"), users=4, seed=13, queued=3,
                           station_id="pult-1", env={"STATION_STATION_LANGUAGE": "de"}) as d:
        yield d


def test_the_snapshot_names_the_language_and_the_summary_is_german(german: DaemonProcess) -> None:
    status = german.client().status()
    assert status["station"]["language"] == "de"
    assert status["summary"] == "bereit · 3 wartend · 0 heute eingerichtet"


def test_station_status_without_a_configuration_speaks_the_stations_language(german: DaemonProcess) -> None:
    env = {k: v for k, v in german.env.items() if k != "STATION_STATION_LANGUAGE"}
    done = subprocess.run([sys.executable, "-m", "station.cli", "status", "--socket", str(german.control_path)],
                          env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "bereit · 3 wartend · 0 heute eingerichtet" in out
    assert "Warteschlange: 3 wartend · 0 zugewiesen · 0 eingerichtet · 0 fehlgeschlagen · 0 übersprungen" in out
    assert "Einführung: 0 von 3 fertig (0%)" in out and "Entra ID: Token" in out
    assert "queue:" not in out and "rollout:" not in out and "token OK" not in out
