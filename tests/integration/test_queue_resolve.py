"""An operator is never stuck with an unresolved enrolment: `station doctor` names it, `station queue retry`
points at `station queue resolve`, which refuses while Entra ID cannot be asked (403 lookups, a rotated
secret) and settles it once Entra answers. Real CLI, SQLite store, the Entra emulator over HTTPS."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from enrol_harness import build_station
from support.waiting import wait_idle

from station.cli import main
from station.events import PersonClaimed
from station_emulator.entra import EntraEmulator
from station_emulator.key import VirtualKey

POSTS = r"/authentication/fido2Methods$"


@pytest.fixture
def emu() -> Iterator[EntraEmulator]:
    with EntraEmulator(users=8, seed=77) as e:
        yield e


def write_config(emu: EntraEmulator, tmp_path: Path) -> str:
    info = emu.info
    secret_file = tmp_path / "cli-secret"
    secret_file.write_text(info.client_secret)
    os.chmod(secret_file, 0o600)
    config = tmp_path / "station.toml"
    config.write_text(
        f'[station]\nid = "desk-9"\n'
        f'[tenant]\ntenant_id = "{info.tenant_id}"\nclient_id = "{info.client_id}"\n'
        f'client_secret_file = "{secret_file}"\nauthority_host = "{info.graph_url}"\n'
        f'graph_host = "{info.graph_url}"\nca_file = "{info.ca_file}"\n'
        f'[store]\nurl = "sqlite:///{tmp_path / "station.db"}"\n')
    return str(config)


def leave_unresolved(emu: EntraEmulator, tmp_path: Path) -> tuple[dict[str, Any], int]:
    """A registration whose answer was lost, and every lookup after it refused with 403."""
    station = build_station(emu, tmp_path, prefetch=0)
    try:
        (user,) = station.queue_users(1)
        original = emu.faults.before
        emu.faults.lose_next_response(POSTS, "POST")

        def before(method: str, path: str) -> Any:
            if method == "POST" and path.endswith("/authentication/fido2Methods"):
                emu.faults.inject(403, count=10**6, path=POSTS, method="GET")
            return original(method, path)

        emu.faults.before = before  # type: ignore[method-assign]
        try:
            station.keys.insert(VirtualKey("fido21"))
            claimed = station.events.wait_for(PersonClaimed)
            assert wait_idle(station.engine, 20)
        finally:
            emu.faults.before = original  # type: ignore[method-assign]
        return user, claimed.enrolment_id
    finally:
        station.close()


def test_an_unresolved_enrolment_is_shown_refused_while_entra_refuses_then_resolved(
        emu: EntraEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    user, enrolment = leave_unresolved(emu, tmp_path)
    upn = user["userPrincipalName"]
    config = write_config(emu, tmp_path)
    capsys.readouterr()

    assert main(["--config", config, "doctor"]) == 1
    out = capsys.readouterr().out
    assert f"FAIL enrolments: 1 unresolved: enrolment {enrolment} of {upn} (registering at station-1): " \
           "graph_uncertain:" in out
    assert "station queue resolve UPN" in out

    assert main(["--config", config, "queue", "retry", upn]) != 0
    err = capsys.readouterr().err
    assert "claimed by station station-1" in err and f"station queue resolve {upn}" in err

    assert main(["--config", config, "queue", "resolve", upn]) != 0
    err = capsys.readouterr().err
    assert f"Entra ID cannot be asked about enrolment {enrolment} of {upn} (graph_denied" in err
    assert "it stays unresolved" in err

    secret = emu.faults.rotate_secret()
    assert main(["--config", config, "queue", "resolve", upn]) != 0
    err = capsys.readouterr().err
    assert f"Entra ID cannot be asked about {upn} (auth_failed" in err and "nothing was changed" in err

    emu.faults.clear()
    secret_file = tmp_path / "cli-secret"
    secret_file.write_text(secret)
    assert main(["--config", config, "queue", "resolve", upn]) == 0
    assert f"enrolment {enrolment}: done — {upn} is enrolled" in capsys.readouterr().out
    assert len(emu.tenant.methods_of(user["id"])) == 1

    assert main(["--config", config, "doctor"]) == 0
    assert "OK   enrolments: none unresolved" in capsys.readouterr().out
    assert main(["--config", config, "queue", "resolve", upn]) != 0
    assert f"{upn} is enrolled: no enrolment of theirs is unfinished" in capsys.readouterr().err
