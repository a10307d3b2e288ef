"""Prometheus metrics of a running station (daemon in this process, Entra emulator over HTTPS with real msal,
real SQLite, virtual keys): a scrape of ``/metrics`` while keys are enrolled and refused shows the counters
moving and the histograms filled, agrees with the store, and carries no UPN, name, slot or key fingerprint;
the node_exporter textfile holds the same and is readable by another user."""

from __future__ import annotations

import socket
import stat
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_harness import queue_people, write_config
from enrol_harness import Recorder
from fido2.ctap2 import ClientPin, Ctap2
from prometheus_client.parser import text_string_to_metric_families

from station import __version__
from station.config import load_config
from station.daemon import Daemon
from station.events import EnrolmentDone, KeyAttached, KeyInspected, KeyRejected
from station.store import open_store
from station_emulator.entra import EntraEmulator
from station_emulator.key import Finger, VirtualKey
from station_emulator.key.ctaphid import open_virtual_device
from station_emulator.virtual_source import VirtualKeySource


@pytest.fixture
def emu() -> Iterator[EntraEmulator]:
    with EntraEmulator(users=4, seed=23) as emulator:
        yield emulator


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(scrape: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return scrape.get((name, frozenset(labels.items())), 0.0)


def scrape(daemon: Daemon) -> str:
    address = daemon.metrics.address
    assert address is not None
    with urllib.request.urlopen(f"http://{address[0]}:{address[1]}/metrics", timeout=10) as answer:
        return str(answer.read().decode())


def used_key() -> VirtualKey:
    key = VirtualKey("fido21", finger=Finger.after(0.0))
    device = open_virtual_device(key)
    try:
        ClientPin(Ctap2(device)).set_pin("90817263")
    finally:
        device.close()
    return key


def test_a_scrape_during_enrolments_moves_with_them_and_agrees_with_the_store(
        emu: EntraEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    textfile = tmp_path / "textfile" / "station.prom"
    textfile.parent.mkdir()
    monkeypatch.setenv("STATION_METRICS_LISTEN", "127.0.0.1:0")
    monkeypatch.setenv("STATION_METRICS_TEXTFILE", str(textfile))
    config = write_config(emu, tmp_path)
    people = queue_people(tmp_path, emu, 3)
    emu.faults.inject(429, count=1, path="creationOptions", method="GET", retry_after=1)
    keys = VirtualKeySource()
    daemon = Daemon(load_config(config), watchers=[keys], control=False, keep_log_level=True)
    events = Recorder(daemon.bus)
    daemon.start()
    try:
        assert daemon.tick()
        before = samples(scrape(daemon))
        assert value(before, "station_enrolments_total", outcome="enrolled", reason="none") == 0
        assert value(before, "station_queue_people", state="queued") == 3
        assert value(before, "station_info", version=__version__,
                      station_id=daemon.cfg.station.id) == 1

        keys.insert(VirtualKey("fido21", finger=Finger.after(0.2)), slot="Virtual 1")
        events.wait_for(EnrolmentDone, slot="Virtual 1")
        keys.insert(used_key(), slot="Virtual 2")
        events.wait_for(KeyRejected, slot="Virtual 2")
        keys.insert(VirtualKey("fido21", finger=Finger.after(0.2)), slot="Virtual 3")
        events.wait_for(EnrolmentDone, slot="Virtual 3")
        daemon.bus.flush()
        assert daemon.tick()
        text = scrape(daemon)
        after = samples(text)

        store = open_store(daemon.cfg.store_url, "check")
        try:
            counts = store.queue.counts()
            done_in_journal = store.journal.count_done_since(0)
        finally:
            store.close()
        assert value(after, "station_enrolments_total", outcome="enrolled", reason="none") == done_in_journal == 2
        model = events.of(KeyInspected, slot="Virtual 2")[0].model
        assert model == "Virtual Key 2.1", "a model the catalogue names is a label as it is"
        assert value(after, "station_key_refusals_total", reason="pin_already_set", model=model) == 1
        for state in ("queued", "enrolled", "claimed", "failed", "skipped"):
            assert value(after, "station_queue_people", state=state) == counts.get(state, 0), state
        assert value(after, "station_enrolment_insert_to_prompt_seconds_count") == 2
        assert value(after, "station_enrolment_touch_to_done_seconds_count") == 2
        assert value(after, "station_enrolment_duration_seconds_count") == 2
        assert value(after, "station_enrolment_insert_to_prompt_seconds_sum") > 0
        assert value(after, "station_graph_call_seconds_count", operation="register") == 2
        assert value(after, "station_graph_call_seconds_count", operation="creation_options") >= 2
        assert value(after, "station_graph_responses_total", api="graph", status="429") == 1
        assert value(after, "station_graph_responses_total", api="graph", status="201") >= 2
        assert value(after, "station_graph_responses_total", api="login", status="200") >= 1
        assert value(after, "station_keys_in_slots") == 0
        assert value(after, "station_intake_paused") == 0
        assert value(after, "station_entra_token_ok") == 1
        assert value(after, "station_store_writable") == 1
        assert value(after, "station_last_heartbeat_timestamp_seconds") > 0

        attached = [e.fingerprint for e in events.of(KeyAttached)]
        personal = [p["userPrincipalName"] for p in people] + [p["displayName"] for p in people] + attached
        for word in [*personal, "Virtual 1", "Virtual 2"]:
            assert word not in text, f"{word!r} in the scrape"
        assert "@" not in text
    finally:
        daemon.shutdown(grace=5.0)

    assert stat.S_IMODE(textfile.stat().st_mode) == 0o644, "node_exporter (another user) must read it"
    written = samples(textfile.read_text())
    assert value(written, "station_enrolments_total", outcome="enrolled", reason="none") == 2
    assert [p.name for p in textfile.parent.iterdir()] == ["station.prom"], "no temporary file left behind"


def test_a_port_in_use_is_a_status_line_and_the_station_serves_keys(
        emu: EntraEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:


    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    monkeypatch.setenv("STATION_METRICS_LISTEN", f"127.0.0.1:{port}")
    config = write_config(emu, tmp_path)
    queue_people(tmp_path, emu, 1)
    keys = VirtualKeySource()
    daemon = Daemon(load_config(config), watchers=[keys], control=False, keep_log_level=True)
    events = Recorder(daemon.bus)
    daemon.start()
    try:
        watchers = daemon.status()["watchers"]
        assert any(f"metrics: cannot listen on 127.0.0.1:{port}" in line and "[metrics] listen" in line
                   for line in watchers), watchers
        keys.insert(VirtualKey("fido21", finger=Finger.after(0.0)), slot="Virtual 1")
        events.wait_for(EnrolmentDone, slot="Virtual 1")
    finally:
        daemon.shutdown(grace=5.0)
        taken.close()
