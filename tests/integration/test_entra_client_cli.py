"""`station import`, `station sync` and `station doctor` against the Entra emulator and a real SQLite store."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from station.cli import main
from station.entra import remedies
from station.store import open_store
from station_emulator.entra import EntraEmulator


@pytest.fixture
def emu() -> Iterator[EntraEmulator]:
    with EntraEmulator(users=60, group_size=25, seed=31) as e:
        yield e


def write_config(emu: EntraEmulator, tmp_path: Path, secret: str | None = None) -> Path:
    info = emu.info
    secret_file = tmp_path / "client-secret"
    secret_file.write_text(secret if secret is not None else info.client_secret)
    os.chmod(secret_file, 0o600)
    config = tmp_path / "station.toml"
    config.write_text(
        f'[tenant]\ntenant_id = "{info.tenant_id}"\nclient_id = "{info.client_id}"\n'
        f'client_secret_file = "{secret_file}"\nauthority_host = "{info.graph_url}"\n'
        f'graph_host = "{info.graph_url}"\nca_file = "{info.ca_file}"\n'
        f'[store]\nurl = "sqlite:///{tmp_path / "station.db"}"\n'
    )
    return config


def queue(tmp_path: Path) -> dict[str, tuple[str, str, str]]:
    """object id → (UPN, display name, state)."""
    store = open_store(f"sqlite:///{tmp_path / 'station.db'}")
    try:
        return {p.object_id or "": (p.upn, p.display_name, p.state) for p in store.queue.list()}
    finally:
        store.close()


def group_users(emu: EntraEmulator) -> dict[str, dict[str, str]]:
    group = emu.tenant.group(emu.info.group_id)
    assert group is not None
    return {u["id"]: u for u in emu.tenant.transitive_member_objects(group)
            if u.get("@odata.type") == "#microsoft.graph.user"}


def test_import_group_by_name_is_idempotent(emu: EntraEmulator, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    config = str(write_config(emu, tmp_path))
    members = group_users(emu)
    assert main(["--config", config, "import", "--group", emu.info.group_name]) == 0
    assert f"{len(members)} added, 0 updated, 0 unchanged" in capsys.readouterr().out
    people = queue(tmp_path)
    assert set(people) == set(members)
    some_id = next(iter(members))
    assert people[some_id] == (members[some_id]["userPrincipalName"].lower(), members[some_id]["displayName"],
                               "queued")
    assert main(["--config", config, "import", "--group", emu.info.group_id]) == 0
    assert f"0 added, 0 updated, {len(members)} unchanged" in capsys.readouterr().out


def test_import_named_users_is_all_or_nothing(emu: EntraEmulator, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    config = str(write_config(emu, tmp_path))
    upns = [u["userPrincipalName"] for u in list(emu.tenant.users.values())[:2]]
    assert main(["--config", config, "import", "--users", *upns, "ghost@contoso.example"]) == 2
    err = capsys.readouterr().err
    assert "ghost@contoso.example: no such user" in err and "nobody was imported" in err
    assert queue(tmp_path) == {}
    assert main(["--config", config, "import", "--users", *upns]) == 0
    assert sorted(upn for upn, _, _ in queue(tmp_path).values()) == sorted(u.lower() for u in upns)


def test_sync_applies_renames_removals_and_newcomers(emu: EntraEmulator, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    config = str(write_config(emu, tmp_path))
    assert main(["--config", config, "import", "--group", emu.info.group_name]) == 0
    assert main(["--config", config, "sync"]) == 0
    capsys.readouterr()

    renamed, leaver = sorted(group_users(emu))[:2]
    emu.tenant.update_user(renamed, {"displayName": "Renée Renamed"})
    emu.tenant.remove_user(leaver)
    outsider = next(uid for uid in sorted(emu.tenant.users) if uid not in group_users(emu))
    group = emu.tenant.group(emu.info.group_id)
    assert group is not None
    group.member_ids.append(outsider)

    assert main(["--config", config, "sync"]) == 0
    out = capsys.readouterr().out
    assert "1 added from imported groups" in out and "1 queued person(s) skipped" in out
    people = queue(tmp_path)
    assert people[renamed][1] == "Renée Renamed"
    assert people[leaver][2] == "skipped"
    assert people[outsider][2] == "queued"


def test_doctor_passes_on_a_healthy_tenant(emu: EntraEmulator, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(write_config(emu, tmp_path)), "doctor"]) == 0
    out = capsys.readouterr().out
    for check in ("token", "users", "groups", "passkeys", "FIDO2 method", "self-service setup", "clock"):
        assert f"OK   {check}:" in out
    assert "FAIL" not in out


def test_doctor_fails_with_the_remedy(emu: EntraEmulator, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    config = str(write_config(emu, tmp_path))
    emu.tenant.policy["isSelfServiceRegistrationAllowed"] = False
    emu.tenant.app.roles -= {"GroupMember.Read.All", "Group.ReadWrite.All"}
    assert main(["--config", config, "doctor"]) == 1
    out = capsys.readouterr().out
    assert "FAIL self-service setup" in out and remedies.ENABLE_SELF_SERVICE in out
    assert "FAIL groups" in out and remedies.GRANT_DIRECTORY in out
    assert "OK   users:" in out


def test_doctor_with_a_wrong_secret_fails_at_the_token(emu: EntraEmulator, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(write_config(emu, tmp_path, secret="wrong")), "doctor"]) == 1
    out = capsys.readouterr().out
    assert "FAIL token" in out and "client secret or certificate" in out
