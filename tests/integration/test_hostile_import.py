"""Hostile names on the way in (tests/hostile_text.py), on SQLite and PostgreSQL: a CSV import refuses a control
character, NUL or over-long value with its line number and imports nothing; `queue add` refuses them in one
message; the directory import cleans a display name and says what it removed, and leaves out a user whose UPN
holds one. Names that are merely unusual (markup brackets, formulas) are queued exactly as written."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_harness import write_config
from hostile_text import CONTROL, LONG, PRINTABLE, assert_terminal_safe, unsafe_characters
from pg import pg_url  # noqa: F401  (fixture)

from station.cli import main
from station.errors import ImportRejectedError
from station.store import NewPerson, open_store
from station_emulator.entra import EntraEmulator

pytestmark = pytest.mark.realstack


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'station.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STATION_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("STATION_CONFIG", raising=False)


def queued(url: str) -> list[tuple[str, str]]:
    store = open_store(url)
    try:
        return [(p.upn, p.display_name) for p in store.queue.list()]
    finally:
        store.close()


def test_csv_with_nul_control_and_overlong_values_names_each_line_and_imports_nothing(
        store_url: str, env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = ["upn,display_name", "ok@contoso.example,Fine Person", "nul@contoso.example,Nul\x00Byte",
            "long@contoso.example," + "N" * 300, "esc@contoso.example,\"Wipe\x1b[2J\"",
            "two@contoso.example,\"Ann\n<0>forged\"", "rtl@contoso.example,Dave\u202egnp.exe",
            "bad\x1b@contoso.example,Esc In Upn", "serial@contoso.example,Kim"]
    path = tmp_path / "people.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert main(["--store", store_url, "queue", "import-csv", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "INSERT" not in err
    assert "6 problem(s); nothing was imported" in err
    assert "line 3: display_name holds U+0000 (NUL) at character 4" in err
    assert "line 4: display_name is 300 characters long; at most 256 are accepted" in err
    assert "line 5: display_name holds U+001B (ESC)" in err
    assert "line 6: display_name holds U+000A (line feed)" in err
    assert "line 8: display_name holds U+202E (right-to-left override)" in err
    assert "line 9: upn holds U+001B (ESC)" in err
    assert_terminal_safe(err, "the CSV rejection")
    assert queued(store_url) == []


def test_csv_with_markup_and_formula_names_queues_them_exactly(
        store_url: str, env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "people.csv"
    lines = ["upn,display_name"] + [f'p{i}@contoso.example,"{name.replace(chr(34), chr(34) * 2)}"'
                                    for i, name in enumerate(PRINTABLE.values())]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["--store", store_url, "queue", "import-csv", str(path)]) == 0
    assert sorted(name for _, name in queued(store_url)) == sorted(PRINTABLE.values())


@pytest.mark.parametrize("name", [*CONTROL.values(), LONG], ids=[*CONTROL, "ten_kilobytes"])
def test_queue_add_refuses_a_control_character_or_an_overlong_name(
        store_url: str, env: None, name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--store", store_url, "queue", "add", "--upn", "kim@contoso.example", "--name", name]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "nothing was added to the queue" in err
    assert "display_name holds" in err or "display_name is 10000 characters long" in err
    assert_terminal_safe(err, "queue add's refusal")
    assert queued(store_url) == []


def test_the_queue_never_hands_postgresql_a_nul_or_an_overlong_value(pg_url: str) -> None:  # noqa: F811
    store = open_store(pg_url)
    try:
        for person in (NewPerson("a@contoso.example", "Nul\x00Byte"), NewPerson("b@contoso.example", "N" * 300),
                       NewPerson("c" * 120 + "@contoso.example", "Long Upn"),
                       NewPerson("d@contoso.example", "Kim", key_serial="SN\x00")):
            with pytest.raises(ImportRejectedError) as refused:
                store.queue.add_people([NewPerson("ok@contoso.example", "Fine"), person])
            assert "nothing was added to the queue" in refused.value.message
            assert "INSERT" not in refused.value.message
        assert store.queue.list() == []
    finally:
        store.close()


@pytest.fixture
def hostile_tenant() -> Iterator[EntraEmulator]:
    with EntraEmulator(users=20, group_size=20, seed=5) as emu:
        yield emu


def test_directory_import_cleans_display_names_and_leaves_out_a_hostile_upn(
        hostile_tenant: EntraEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    emu = hostile_tenant
    group = emu.tenant.group(emu.info.group_id)
    assert group is not None
    members = sorted((u for u in emu.tenant.transitive_member_objects(group)
                      if u.get("@odata.type") == "#microsoft.graph.user"), key=lambda u: u["userPrincipalName"])
    hostile = {**PRINTABLE, **CONTROL}
    for user, name in zip(members, hostile.values(), strict=False):
        emu.tenant.update_user(user["id"], {"displayName": name})
    forged = members[-1]
    emu.tenant.update_user(forged["id"], {"userPrincipalName": "eve\n<0>forged@" + emu.tenant.domain})
    config = write_config(emu, tmp_path)
    assert main(["--config", str(config), "import", "--group", emu.info.group_name]) == 0
    out = capsys.readouterr()
    assert_terminal_safe(out.out + out.err, "the directory import's report")
    assert "removed 2 character(s): U+001B (ESC)" in out.err
    assert "removed 1 character(s): U+202E (right-to-left override)" in out.err
    assert "eve\\n<0>forged@" in out.err and "not queued — upn holds U+000A (line feed)" in out.err
    people = dict(queued(f"sqlite:///{tmp_path / 'station.db'}"))
    assert len(people) == len(members) - 1
    names = set(people.values())
    assert set(PRINTABLE.values()) <= names
    assert {"Wipe[2J[HScreen", "Clip]52;c;SGFja2VkIQ==board", "Eight2Jbit", "Ann<0>station.enroll: forged entry",
            "BobOverwritten", "Davegnp.exe", "ZedWidth", "NulByte"} <= names
    assert not any(unsafe_characters(n) for n in names)


def test_sync_cleans_a_display_name_renamed_to_a_hostile_one(
        hostile_tenant: EntraEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    emu = hostile_tenant
    config = str(write_config(emu, tmp_path))
    assert main(["--config", config, "import", "--group", emu.info.group_name]) == 0
    assert main(["--config", config, "sync"]) == 0
    someone = sorted(emu.tenant.users.values(), key=lambda u: u["userPrincipalName"])[0]
    emu.tenant.update_user(someone["id"], {"displayName": CONTROL["osc52_clipboard"]})
    capsys.readouterr()
    assert main(["--config", config, "sync"]) == 0
    out = capsys.readouterr()
    assert_terminal_safe(out.out + out.err, "the sync report")
    assert "removed 2 character(s): U+001B (ESC), U+0007 (BEL)" in out.err
    people = dict(queued(f"sqlite:///{tmp_path / 'station.db'}"))
    assert people[someone["userPrincipalName"].lower()] == "Clip]52;c;SGFja2VkIQ==board"
