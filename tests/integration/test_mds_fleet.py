"""FIDO metadata on a fleet's PostgreSQL store: one `station mds load` serves every station sharing it, and
a running daemon picks up a BLOB loaded after it started when it is reloaded (SIGHUP)."""

from __future__ import annotations

from pathlib import Path

import pytest
from daemon_harness import queue_people, write_config
from enrol_harness import Recorder
from mds_blob import REVOKED_AAGUID, YUBIKEY_5_AAGUID, TestMds, real_payload
from pg import pg_url  # noqa: F401  (fixture)

from station.cli import main
from station.config import load_config
from station.daemon import Daemon
from station.events import KeyRejected
from station.keys.persist import load_catalogue
from station.store import open_store
from station_emulator.entra import EntraEmulator
from station_emulator.key import Finger, VirtualKey
from station_emulator.virtual_source import VirtualKeySource


def _blob(tmp_path: Path) -> tuple[Path, Path]:
    mds = TestMds()
    blob, root = tmp_path / "blob.jwt", tmp_path / "root.pem"
    blob.write_bytes(mds.blob(real_payload(nextUpdate="2099-01-01")))
    root.write_bytes(mds.root_pem)
    return blob, root


@pytest.mark.realstack
def test_one_load_serves_every_station_on_the_shared_store(pg_url: str, tmp_path: Path) -> None:  # noqa: F811
    blob, root = _blob(tmp_path)
    assert main(["mds", "load", str(blob), "--trust-root", str(root), "--store", pg_url]) == 0
    for station in ("kiosk-1", "kiosk-2"):
        store = open_store(pg_url, station)
        try:
            catalogue = load_catalogue(store.meta)
        finally:
            store.close()
        assert catalogue.source == "FIDO MDS BLOB no. 163 (nextUpdate 2099-01-01)"
        assert catalogue.name(YUBIKEY_5_AAGUID) == "YubiKey 5 Series"
        facts = catalogue.get(REVOKED_AAGUID)
        assert facts is not None and facts.compromise is not None


def test_a_running_daemon_takes_a_blob_loaded_later_on_reload(tmp_path: Path) -> None:
    with EntraEmulator(users=2, seed=17) as emu:
        config = write_config(emu, tmp_path)
        queue_people(tmp_path, emu, 1)
        keys = VirtualKeySource()
        daemon = Daemon(load_config(config), watchers=[keys], control=False, keep_log_level=True)
        events = Recorder(daemon.bus)
        daemon.start()
        try:
            blob, root = _blob(tmp_path)
            assert main(["--config", str(config), "mds", "load", str(blob), "--trust-root", str(root)]) == 0
            assert "fido_metadata" in daemon.reload()
            key = VirtualKey("fido21", aaguid=REVOKED_AAGUID, finger=Finger.after(0.0))
            keys.insert(key, slot="Virtual 1")
            assert events.wait_for(KeyRejected, slot="Virtual 1").reason == "model_compromised"
            assert not key.state.pin_set
            assert daemon.reload() == []
        finally:
            daemon.shutdown(grace=5.0)
