"""A German user's PIN letter comes out in German, end to end: the emulated tenant gives the user
preferredLanguage "de-DE", `station import` (over HTTPS, through Graph's $select) stores it on the person,
the key is enrolled, and `station pins export` writes the letter in German although the station's own
language is French."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from enrol_harness import build_station
from support.waiting import wait_idle

from station.cli import main
from station.events import EnrolmentDone
from station.store import open_store
from station_emulator.entra import EntraEmulator
from station_emulator.key import VirtualKey


@pytest.fixture(scope="module")
def emu() -> Iterator[EntraEmulator]:
    with EntraEmulator(users=6, seed=41) as e:
        yield e


def write_config(emu: EntraEmulator, tmp_path: Path) -> str:
    info = emu.info
    secret_file = tmp_path / "client-secret"
    secret_file.write_text(info.client_secret)
    os.chmod(secret_file, 0o600)
    config = tmp_path / "station.toml"
    config.write_text(
        f'[station]\nlanguage = "fr"\n'
        f'[tenant]\ntenant_id = "{info.tenant_id}"\nclient_id = "{info.client_id}"\n'
        f'client_secret_file = "{secret_file}"\nauthority_host = "{info.graph_url}"\n'
        f'graph_host = "{info.graph_url}"\nca_file = "{info.ca_file}"\n'
        f'[store]\nurl = "sqlite:///{tmp_path / "station.db"}"\n')
    return str(config)


def queued_language(tmp_path: Path) -> str:
    """The preferred language of the one person queued in the test's store."""
    store = open_store(f"sqlite:///{tmp_path / 'station.db'}")
    try:
        (person,) = store.queue.list()
        return person.preferred_language
    finally:
        store.close()


def enrol_and_export_letter(emu: EntraEmulator, tmp_path: Path, config: str, capsys: pytest.CaptureFixture[str],
                            **policy: bool) -> str:
    """Enrol a virtual key for the queued person, then the HTML letter `station pins export` writes."""
    station = build_station(emu, tmp_path, prefetch=0, **policy)
    try:
        station.keys.insert(VirtualKey("fido21"))
        station.events.wait_for(EnrolmentDone)
        wait_idle(station.engine, 5)
    finally:
        station.close()
    capsys.readouterr()
    private = tmp_path / "escrow-station-1" / "escrow-private.pem"
    assert main(["--config", config, "pins", "export", "--private-key", str(private), "--format", "html"]) == 0
    return capsys.readouterr().out


def test_a_german_users_letter_is_in_german(emu: EntraEmulator, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    german = next(u for u in emu.tenant.users.values() if u.get("preferredLanguage") == "de-DE")
    config = write_config(emu, tmp_path)
    assert main(["--config", config, "import", "--users", german["userPrincipalName"]]) == 0
    assert queued_language(tmp_path) == "de-DE"
    letter = enrol_and_export_letter(emu, tmp_path, config, capsys, force_pin_change=False)
    assert 'lang="de"' in letter and "Ihr Sicherheitsschlüssel" in letter
    assert f'Guten Tag <bdi dir="auto">{german["displayName"]}</bdi>,' in letter
    assert "Sie können diese PIN behalten" in letter, "pin_change off: the German words for it"
    assert "Your security key" not in letter and "Votre clé" not in letter


def test_a_language_changed_in_entra_id_reaches_the_letter_through_station_sync(
        emu: EntraEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The user is queued in English; Entra ID then says German (de-CH): `station sync` reads the change through
    users/delta, the person's language follows, and the letter is German."""
    user = next(u for u in emu.tenant.users.values() if u.get("preferredLanguage") == "en-US")
    config = write_config(emu, tmp_path)
    assert main(["--config", config, "import", "--users", user["userPrincipalName"]]) == 0
    assert main(["--config", config, "sync"]) == 0  # the first sync reads every user and keeps the deltaLink
    emu.tenant.update_user(user["id"], {"preferredLanguage": "de-CH"})
    capsys.readouterr()
    assert main(["--config", config, "sync"]) == 0
    assert "1 updated" in capsys.readouterr().out
    assert queued_language(tmp_path) == "de-CH"
    letter = enrol_and_export_letter(emu, tmp_path, config, capsys)
    assert 'lang="de"' in letter and f'Guten Tag <bdi dir="auto">{user["displayName"]}</bdi>,' in letter
    assert "Your security key" not in letter and "Votre clé" not in letter
