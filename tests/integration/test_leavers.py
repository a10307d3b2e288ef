"""Leavers at `station sync`: a key holder deleted from the directory and one taken out of the imported rollout
group are reported (on_leaver = "report", nothing revoked) or have their passkeys revoked (on_leaver =
"revoke"); a holder still in the group is left alone. Real CLI, SQLite, keys enrolled by the engine, the
Entra emulator over HTTPS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from enrol_harness import build_station
from test_entra_client_cli import write_config

from station.cli import main
from station.events import EnrolmentDone
from station.store import open_store
from station.store.inventory import KeyView
from station_emulator.entra import EntraEmulator
from station_emulator.key import VirtualKey


@pytest.fixture
def emu() -> Iterator[EntraEmulator]:
    with EntraEmulator(users=20, group_size=8, seed=53) as e:
        yield e


def inventory(tmp_path: Path) -> dict[str, KeyView]:
    store = open_store(f"sqlite:///{tmp_path / 'station.db'}")
    try:
        return {k.object_id or "": k for k in store.inventory.find()}
    finally:
        store.close()


def only_direct(emu: EntraEmulator, uid: str) -> bool:
    """Whether the user is in the rollout group only as a direct member (not through a nested group)."""
    group = emu.tenant.group(emu.info.group_id)
    assert group is not None
    nested = [emu.tenant.group(g) for g in group.member_ids if emu.tenant.group(g) is not None]
    return not any(emu.tenant.is_transitive_member(g.id, uid) for g in nested if g is not None)


@pytest.mark.parametrize("on_leaver", ["report", "revoke"])
def test_leavers_are_reported_or_revoked(emu: EntraEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         on_leaver: str) -> None:
    config = write_config(emu, tmp_path)
    config.write_text(config.read_text() + f'[lifecycle]\non_leaver = "{on_leaver}"\n')
    assert main(["--config", str(config), "import", "--group", emu.info.group_name]) == 0
    assert main(["--config", str(config), "sync"]) == 0
    station = build_station(emu, tmp_path, prefetch=0)
    try:
        for key in (VirtualKey("fido21"), VirtualKey("fido21"), VirtualKey("fido21")):
            before = len(station.events.of(EnrolmentDone))
            station.keys.insert(key)
            station.wait(lambda: len(station.events.of(EnrolmentDone)) > before)  # noqa: B023  (waited on here)
    finally:
        station.close()
    group = emu.tenant.group(emu.info.group_id)
    assert group is not None
    holders = inventory(tmp_path)
    moved = next(uid for uid in holders if uid in group.member_ids and only_direct(emu, uid))
    group.member_ids.remove(moved)
    assert not emu.tenant.is_transitive_member(group.id, moved)
    gone, stays = (uid for uid in holders if uid != moved)
    emu.tenant.remove_user(gone)
    capsys.readouterr()

    assert main(["--config", str(config), "sync"]) == 0
    out = capsys.readouterr().out
    assert "2 leaver(s)" in out
    moved_upn, gone_upn = holders[moved].upn, holders[gone].upn
    after = inventory(tmp_path)
    if on_leaver == "report":
        assert f"leaver {gone_upn} (gone from the directory) holds 1 key(s)" in out
        assert f"leaver {moved_upn} (no longer in an imported rollout group) holds 1 key(s)" in out
        assert "station keys revoke --upn" in out
        assert {k.state for k in after.values()} == {"active"}
        assert len(emu.tenant.methods_of(moved)) == 1
    else:
        assert f"leaver {moved_upn} (no longer in an imported rollout group): 1 key(s) revoked" in out
        assert f"leaver {gone_upn} (gone from the directory): 1 key(s) revoked" in out
        assert (after[moved].state, after[moved].reason) == ("revoked", "left")
        assert (after[gone].state, after[gone].reason) == ("revoked", "left")
        assert after[stays].state == "active"
        assert emu.tenant.methods_of(moved) == []
    assert holders[stays].upn not in out.replace("sync:", "")
    assert len(emu.tenant.methods_of(stays)) == 1
