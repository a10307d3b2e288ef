"""`station keys list|revoke|replace|verify` against the Entra emulator over HTTPS (real msal), a real SQLite
store, keys enrolled by the engine with virtual keys: revoke deletes exactly that passkey and is idempotent,
a crash between the DELETE and the inventory update is finished by running it again, a passkey already
deleted (404) is success, a 403 names the permission and changes nothing but the recorded intent."""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from enrol_harness import build_station, emulator_config
from test_queue_resolve import write_config

from station.cli import main
from station.control import ControlServer
from station.control_client import ControlClient
from station.entra import EntraClient
from station.errors import ControlError
from station.events import EnrolmentDone, EventBus
from station.lifecycle.service import KeyService
from station.store import open_store
from station.store.inventory import Inventory
from station_emulator.entra import EntraEmulator
from station_emulator.key import VirtualKey

PASSKEY_ROLES = {"UserAuthMethod-Passkey.ReadWrite.All", "UserAuthenticationMethod.ReadWrite.All"}


@pytest.fixture
def emu() -> Iterator[EntraEmulator]:
    with EntraEmulator(users=6, seed=23) as e:
        yield e


@pytest.fixture
def enrolled(emu: EntraEmulator, tmp_path: Path) -> tuple[list[dict[str, Any]], str]:
    """Two people enrolled with a key each; the configuration file of a CLI on the same store."""
    station = build_station(emu, tmp_path, prefetch=0)
    try:
        users = station.queue_users(2)
        station.keys.insert(VirtualKey("fido21"))
        station.wait(lambda: len(station.events.of(EnrolmentDone)) == 1)
        station.keys.insert(VirtualKey("fido21"))
        station.wait(lambda: len(station.events.of(EnrolmentDone)) == 2)
        station.bus.flush()
    finally:
        station.close()
    return users, write_config(emu, tmp_path)


def run(capsys: pytest.CaptureFixture[str], config: str, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["--config", config, *argv])
    out, err = capsys.readouterr()
    return code, out, err


def keys_json(capsys: pytest.CaptureFixture[str], config: str, *filters: str) -> list[dict[str, Any]]:
    code, out, _ = run(capsys, config, "keys", "list", "--json", *filters)
    assert code == 0
    return list(json.loads(out))


def audit_kinds(tmp_path: Path) -> list[str]:
    store = open_store(f"sqlite:///{tmp_path / 'station.db'}")
    try:
        return [e.kind for e in store.audit.entries()]
    finally:
        store.close()


def test_revoke_deletes_exactly_that_passkey_and_a_second_run_changes_nothing(
        emu: EntraEmulator, enrolled: tuple[list[dict[str, Any]], str], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    users, config = enrolled
    ann, bo = users
    listed = keys_json(capsys, config)
    assert {k["upn"] for k in listed} == {ann["userPrincipalName"], bo["userPrincipalName"]}
    assert all(k["state"] == "active" and k["model"] and k["identity"] for k in listed)
    bo_methods = emu.tenant.methods_of(bo["id"])

    code, out, _ = run(capsys, config, "keys", "revoke", "--upn", ann["userPrincipalName"], "--reason", "lost")
    assert code == 0 and "revoked (lost): now lost" in out
    assert emu.tenant.methods_of(ann["id"]) == []
    assert emu.tenant.methods_of(bo["id"]) == bo_methods
    (ann_key,) = keys_json(capsys, config, "--person", ann["userPrincipalName"])
    assert (ann_key["state"], ann_key["reason"]) == ("lost", "lost") and ann_key["revoked_at"]
    assert [k["state"] for k in keys_json(capsys, config, "--state", "active")] == ["active"]
    code, out, _ = run(capsys, config, "queue", "show", ann["userPrincipalName"], "--json")
    assert json.loads(out)["state"] == "skipped"
    audit = audit_kinds(tmp_path)
    assert audit[-2:] == ["key_revoking", "key_revoked"]

    code, out, _ = run(capsys, config, "keys", "revoke", "--upn", ann["userPrincipalName"], "--reason", "lost")
    assert code == 0 and "was already lost: nothing to do" in out
    assert audit_kinds(tmp_path) == audit
    assert keys_json(capsys, config, "--person", ann["userPrincipalName"]) == [ann_key]
    assert emu.tenant.methods_of(bo["id"]) == bo_methods


def test_a_crash_between_the_delete_and_the_inventory_update_is_finished_by_running_again(
        emu: EntraEmulator, enrolled: tuple[list[dict[str, Any]], str], capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    users, config = enrolled
    ann = users[0]
    (key,) = keys_json(capsys, config, "--person", ann["userPrincipalName"])

    def power_cut(*_: object, **__: object) -> None:
        raise SystemExit("power cut")

    with monkeypatch.context() as m:
        m.setattr(Inventory, "finish_revoke", power_cut)
        with pytest.raises(SystemExit):
            main(["--config", config, "keys", "revoke", "--serial", key["identity"], "--reason", "stolen"])
    assert emu.tenant.methods_of(ann["id"]) == []
    (half,) = keys_json(capsys, config, "--person", ann["userPrincipalName"])
    assert (half["state"], half["reason"]) == ("revoking", "stolen")

    code, out, _ = run(capsys, config, "keys", "revoke", "--serial", key["identity"], "--reason", "stolen")
    assert code == 0 and "Entra ID had already deleted its passkey" in out
    (done,) = keys_json(capsys, config, "--person", ann["userPrincipalName"])
    assert (done["state"], done["reason"]) == ("lost", "stolen")


def test_a_passkey_already_deleted_in_entra_404_is_revoked(
        emu: EntraEmulator, enrolled: tuple[list[dict[str, Any]], str], capsys: pytest.CaptureFixture[str]) -> None:
    users, config = enrolled
    ann = users[0]
    (method,) = emu.tenant.methods_of(ann["id"])
    assert emu.tenant.remove_method(ann["id"], method.id)
    code, out, _ = run(capsys, config, "keys", "revoke", "--upn", ann["userPrincipalName"], "--reason", "left")
    assert code == 0 and "now revoked (Entra ID had already deleted its passkey)" in out
    (key,) = keys_json(capsys, config, "--person", ann["userPrincipalName"])
    assert (key["state"], key["reason"]) == ("revoked", "left")


def test_a_403_names_the_permission_and_the_revocation_finishes_once_granted(
        emu: EntraEmulator, enrolled: tuple[list[dict[str, Any]], str], capsys: pytest.CaptureFixture[str]) -> None:
    users, config = enrolled
    ann = users[0]
    emu.tenant.app.roles -= PASSKEY_ROLES
    try:
        code, out, err = run(capsys, config, "keys", "revoke", "--upn", ann["userPrincipalName"], "--reason", "lost")
    finally:
        emu.tenant.app.roles |= PASSKEY_ROLES
    assert code == 1
    assert f"refused to delete the passkey of {ann['userPrincipalName']}" in err
    assert "UserAuthMethod-Passkey.ReadWrite.All or UserAuthenticationMethod.ReadWrite.All" in err
    assert "run the command again" in err
    assert len(emu.tenant.methods_of(ann["id"])) == 1
    (key,) = keys_json(capsys, config, "--person", ann["userPrincipalName"])
    assert key["state"] == "revoking"

    code, out, _ = run(capsys, config, "keys", "revoke", "--upn", ann["userPrincipalName"], "--reason", "lost")
    assert code == 0 and "revoked (lost): now lost" in out and emu.tenant.methods_of(ann["id"]) == []


def test_replace_revokes_and_queues_the_person_ahead_of_everyone(
        emu: EntraEmulator, enrolled: tuple[list[dict[str, Any]], str], capsys: pytest.CaptureFixture[str]) -> None:
    users, config = enrolled
    bo = users[1]
    for upn in ("cy@contoso.com", "di@contoso.com"):
        assert run(capsys, config, "queue", "add", "--upn", upn, "--priority", "5")[0] == 0
    code, out, _ = run(capsys, config, "keys", "replace", "--upn", bo["userPrincipalName"])
    assert code == 0 and "revoked (replaced): now revoked" in out and "ahead of everyone" in out
    assert emu.tenant.methods_of(bo["id"]) == []
    code, out, _ = run(capsys, config, "queue", "list", "--state", "queued", "--json")
    assert next(p["upn"] for p in json.loads(out)) == bo["userPrincipalName"]


def test_verify_is_clean_then_reports_drift_with_exit_1(
        emu: EntraEmulator, enrolled: tuple[list[dict[str, Any]], str], capsys: pytest.CaptureFixture[str]) -> None:
    users, config = enrolled
    ann, bo = users
    code, out, _ = run(capsys, config, "keys", "verify", "--json")
    assert code == 0 and json.loads(out) == {"clean": True, "people_checked": 2, "keys": 2, "drift": []}

    (ann_method,) = emu.tenant.methods_of(ann["id"])
    emu.tenant.remove_method(ann["id"], ann_method.id)  # deleted in My Sign-ins
    (bo_method,) = emu.tenant.methods_of(bo["id"])
    emu.tenant.remove_method(bo["id"], bo_method.id)
    emu.tenant.add_method(dataclasses.replace(bo_method, id="elsewhere-1"))  # another passkey
    code, out, _ = run(capsys, config, "keys", "verify", "--json")
    report = json.loads(out)
    assert code == 1 and not report["clean"]
    found = {(d["kind"], d["upn"]) for d in report["drift"]}
    assert found == {("removed_in_entra", ann["userPrincipalName"]), ("removed_in_entra", bo["userPrincipalName"]),
                     ("registered_elsewhere", bo["userPrincipalName"])}
    code, out, _ = run(capsys, config, "keys", "verify")
    assert code == 1 and "3 drift" in out and "DRIFT registered_elsewhere" in out


def test_doctor_checks_the_permission_revocation_needs(emu: EntraEmulator, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(emu, tmp_path)
    code, out, _ = run(capsys, config, "doctor")
    assert code == 0 and "OK   revocation: the app may delete passkeys" in out
    emu.tenant.app.roles -= PASSKEY_ROLES
    try:
        code, out, _ = run(capsys, config, "doctor")
    finally:
        emu.tenant.app.roles |= PASSKEY_ROLES
    assert code == 1
    line = next(line for line in out.splitlines() if "revocation" in line)
    assert line.startswith("FAIL revocation: the app may not delete passkeys")
    assert "UserAuthMethod-Passkey.ReadWrite.All or UserAuthenticationMethod.ReadWrite.All" in out


class NoIntake:
    """The engine side of the control socket, unused here."""

    paused = False

    def pause_intake(self) -> None: ...
    def resume_intake(self) -> None: ...
    def retry_person(self, upn: str) -> Any: ...
    def skip_person(self, upn: str) -> Any: ...
    def cancel_slot(self, slot: str) -> bool:
        return False


def test_the_control_socket_lists_keys_and_revokes_one(
        emu: EntraEmulator, enrolled: tuple[list[dict[str, Any]], str], tmp_path: Path) -> None:
    users, _ = enrolled
    ann, bo = users
    store = open_store(f"sqlite:///{tmp_path / 'station.db'}", "station-1")
    entra = EntraClient(emulator_config(emu, tmp_path))
    bus = EventBus()
    server = ControlServer(Path(tempfile.mkdtemp(prefix="st-keys-", dir="/tmp")) / "control.sock",
                           status=lambda: {"v": 1}, controls=NoIntake(), bus=bus,
                           keys=KeyService(store, entra.passkeys))
    server.start()
    try:
        client = ControlClient(server.path)
        assert len(client.command("keys")["keys"]) == 2
        (key,) = client.command("keys", text=ann["displayName"].split()[0])["keys"]
        assert key["upn"] == ann["userPrincipalName"]
        with pytest.raises(ControlError, match="unknown reason"):
            client.command("revoke_key", identity=key["identity"], reason="bored")
        (revoked,) = client.command("revoke_key", identity=key["identity"], reason="lost")["keys"]
        assert (revoked["state"], revoked["changed"]) == ("lost", True)
        assert emu.tenant.methods_of(ann["id"]) == [] and len(emu.tenant.methods_of(bo["id"])) == 1
        assert [k["upn"] for k in client.command("keys", state="active")["keys"]] == [bo["userPrincipalName"]]
    finally:
        server.stop()
        bus.close()
        entra.close()
        store.close()
        shutil.rmtree(server.path.parent, ignore_errors=True)
