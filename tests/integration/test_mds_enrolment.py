"""FIDO metadata at the station, end to end: `station mds load` into the daemon's store, then the daemon in
this process (Entra emulator over HTTPS with real msal, real SQLite, virtual keys) uses it.

What the technician and the administrator rely on: a key whose model the metadata reports revoked is refused
the moment it is inserted, with the reason and a remedy, and nothing is written to it; keys are named after
their MDS model in the dashboard and in Entra ID; with ``attestation = "verify"`` a key whose attestation
does not chain to its model's MDS roots is refused before Entra ID sees it — at insertion when the model has
no entry, after the touch otherwise (the passkey is deleted from the key and the person goes back to the
queue) — while a model whose roots do vouch for it is enrolled.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_harness import queue_people, write_config
from enrol_harness import Recorder
from mds_blob import REVOKED_AAGUID, YUBIKEY_5_AAGUID, TestMds, real_payload, with_entry

from station.cli import main
from station.config import load_config
from station.daemon import Daemon
from station.events import EnrolmentDone, EnrolmentFailed, KeyInspected, KeyRejected
from station.store import open_store
from station_emulator.entra import EntraEmulator
from station_emulator.key import Finger, VirtualKey, attestation_root_pem
from station_emulator.virtual_source import VirtualKeySource

VIRTUAL_21 = "5a7e0000-2100-4000-8000-5a7e10000021"
NOT_IN_MDS = "0d15ea5e-0000-4000-8000-00000000c0de"
MDS_NAME = "Station Virtual Key (MDS)"


@pytest.fixture
def emu() -> Iterator[EntraEmulator]:
    with EntraEmulator(users=4, seed=16) as emulator:
        yield emulator


def _station(emu: EntraEmulator, directory: Path) -> tuple[Path, list[dict[str, str]]]:
    config = write_config(emu, directory)
    people = queue_people(directory, emu, 2)
    mds = TestMds()
    payload = with_entry(real_payload(nextUpdate="2099-01-01"), VIRTUAL_21, MDS_NAME, roots=[attestation_root_pem()])
    (directory / "blob.jwt").write_bytes(mds.blob(payload))
    (directory / "root.pem").write_bytes(mds.root_pem)
    assert main(["--config", str(config), "mds", "load", str(directory / "blob.jwt"),
                 "--trust-root", str(directory / "root.pem")]) == 0
    return config, people


def _run(config: Path) -> tuple[Daemon, VirtualKeySource, Recorder]:
    keys = VirtualKeySource()
    daemon = Daemon(load_config(config), watchers=[keys], control=False, keep_log_level=True)
    events = Recorder(daemon.bus)
    daemon.start()
    return daemon, keys, events


def _queued(config: Path) -> list[str]:
    store = open_store(f"sqlite:///{config.parent / 'station.db'}", "check")
    try:
        return [p.upn for p in store.queue.list(state="queued")]
    finally:
        store.close()


def test_a_revoked_model_is_refused_at_insertion_and_known_models_get_their_mds_name(
        emu: EntraEmulator, tmp_path: Path) -> None:
    config, people = _station(emu, tmp_path)
    daemon, keys, events = _run(config)
    try:
        revoked = VirtualKey("fido21", aaguid=REVOKED_AAGUID, finger=Finger.after(0.0))
        keys.insert(revoked, slot="Virtual 1")
        rejected = events.wait_for(KeyRejected, slot="Virtual 1")
        assert rejected.reason == "model_compromised"
        assert rejected.message == (f"TruU Windows Authenticator (AAGUID {REVOKED_AAGUID}): FIDO's metadata "
                                    "reports REVOKED since 2023-12-20")
        assert "compromised or revoked" in rejected.remedy and "another model" in rejected.remedy
        assert not revoked.state.pin_set and not revoked.state.residents
        assert len(_queued(config)) == 2

        keys.insert(VirtualKey("fido21", finger=Finger.after(0.0)), slot="Virtual 2")
        done = events.wait_for(EnrolmentDone, slot="Virtual 2")
        assert events.of(KeyInspected, slot="Virtual 2")[0].model == MDS_NAME
        assert done.display_name.startswith("Station Virtual Key")
        method = emu.tenant.methods_of(people[0]["id"])[0]
        assert method.display_name == done.display_name
    finally:
        daemon.shutdown(grace=5.0)


def test_attestation_verify_refuses_what_the_metadata_does_not_vouch_for(
        emu: EntraEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STATION_ENROLMENT_ATTESTATION", "verify")
    config, people = _station(emu, tmp_path)
    daemon, keys, events = _run(config)
    try:
        unlisted = VirtualKey("fido21", aaguid=NOT_IN_MDS, finger=Finger.after(0.0))
        keys.insert(unlisted, slot="Virtual 1")
        rejected = events.wait_for(KeyRejected, slot="Virtual 1")
        assert rejected.reason == "attestation_untrusted"
        assert f"FIDO's metadata does not list this model (AAGUID {NOT_IN_MDS})" in rejected.message
        assert not unlisted.state.pin_set

        # The virtual key claims to be a YubiKey 5, but its attestation is signed by the emulator's CA.
        impostor = VirtualKey("fido21", aaguid=YUBIKEY_5_AAGUID, finger=Finger.after(0.0))
        keys.insert(impostor, slot="Virtual 2")
        failed = events.wait_for(EnrolmentFailed, slot="Virtual 2")
        assert failed.reason == "attestation_untrusted"
        assert failed.message == ("YubiKey 5 Series: its attestation does not chain to a root FIDO's metadata "
                                  "lists for this model")
        assert "reset it before reuse" in failed.remedy
        assert impostor.state.residents == []
        assert emu.tenant.methods_of(people[0]["id"]) == []
        assert len(_queued(config)) == 2

        keys.insert(VirtualKey("fido21", finger=Finger.after(0.0)), slot="Virtual 3")
        events.wait_for(EnrolmentDone, slot="Virtual 3")
        assert sum(len(emu.tenant.methods_of(p["id"])) for p in people) == 1
    finally:
        daemon.shutdown(grace=5.0)


def test_verify_without_metadata_stops_the_station_with_the_fix(
        emu: EntraEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STATION_ENROLMENT_ATTESTATION", "verify")
    config = write_config(emu, tmp_path)
    daemon = Daemon(load_config(config), watchers=[VirtualKeySource()], control=False, keep_log_level=True)
    with pytest.raises(Exception, match="attestation cannot be verified without FIDO metadata") as info:
        daemon.start()
    assert "station mds load FILE" in str(getattr(info.value, "problems", ""))
