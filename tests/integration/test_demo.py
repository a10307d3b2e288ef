"""`station demo --headless` as a newcomer runs it: the whole station against the emulators, to the end.

What they rely on: every person in the seeded group ends up enrolled (the used and disallowed keys the
technician picks up along the way are refused with a reason, and those people get a good key next), the
run ends by itself with a summary, and the store it leaves behind agrees with that summary.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support.store_helpers import recent_rows

from station.cli import main
from station.store import open_store


def test_headless_demo_enrols_everyone_and_summarises(tmp_path: Path) -> None:
    state = tmp_path / "demo"
    result = subprocess.run(
        [sys.executable, "-m", "station.cli", "demo", "--headless", "--users", "20", "--keys", "4", "--seed", "1",
         "--speed", "5", "--state-dir", str(state)],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "enrolled: 20 of 20" in out
    assert "(20/20)" in out
    assert "pin_already_set" in out and "already has a PIN" in out, "a used key is refused with its reason"
    assert "aaguid_not_allowed" in out, "a disallowed model is refused with its reason"
    assert "enrolments per minute" in out
    assert out.count("touch the key") >= 20

    store = open_store(f"sqlite:///{state / 'station.db'}", "check")
    try:
        counts = store.queue.counts()
        assert counts["enrolled"] == 20 and counts["queued"] == counts["claimed"] == counts["failed"] == 0
        rows = recent_rows(store.journal, 100)
        done = [r for r in rows if r.state == "done"]
        assert len(done) == 20 and len({r.person_id for r in done}) == 20, "each person enrolled once"
        assert all(r.method_id and r.pin_escrow for r in done)
        assert all(r.state == "done" for r in rows), "refused keys never opened a journal row"
    finally:
        store.close()


def test_demo_with_a_real_key_model_enrols_everyone_and_hands_the_pin_change_to_the_letter(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "demo-yk54"
    result = subprocess.run(
        [sys.executable, "-m", "station.cli", "demo", "--headless", "--users", "6", "--keys", "2", "--seed", "2",
         "--speed", "10", "--profile", "yubikey5-5.4", "--quirk", "pin-protocol-2-fails", "--state-dir", str(state)],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "enrolled: 6 of 6" in result.stdout and "yubikey5-5.4" in result.stdout
    store = open_store(f"sqlite:///{state / 'station.db'}", "check")
    try:
        done = [r for r in recent_rows(store.journal, 100) if r.state == "done"]
        assert len(done) == 6
        assert all("cannot force a PIN change" in (r.pin_rules or "") for r in done), "no authenticatorConfig"
        assert all(r.model.startswith("YubiKey 5") for r in done)
    finally:
        store.close()
    capsys.readouterr()
    assert main(["keys", "list", "--json", "--config", str(state / "station.toml")]) == 0
    keys = json.loads(capsys.readouterr().out)
    assert len(keys) == 6 and len({k["upn"] for k in keys}) == 6
    assert all(k["state"] == "active" and k["model"].startswith("YubiKey 5") and k["display_name"] for k in keys)
    assert all(k["serial"] and k["serial"].isdigit() and k["identity"] == k["serial"] for k in keys), \
        "each key's printed serial, read through its management application"

    config, private = str(state / "station.toml"), str(state / "escrow-private.pem")
    assert main(["--config", config, "pins", "export", "--private-key", private, "--format", "html"]) == 0
    letters = capsys.readouterr().out.split('<section class="letter"')[1:]
    languages = sorted(re.search(r'lang="(\w+)"', letter).group(1) for letter in letters)  # type: ignore[union-attr]
    assert languages == ["de", "en", "en", "es", "fr", "nl"], "the tenant's preferredLanguage, else English"
    german = next(letter for letter in letters if 'lang="de"' in letter)
    assert "Ihr Sicherheitsschlüssel" in german and "Your security key" not in german


def test_a_german_demo_station_gives_its_remedies_and_the_letters_of_people_without_a_language_in_german(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "demo-de"
    result = subprocess.run(
        [sys.executable, "-m", "station.cli", "demo", "--headless", "--users", "6", "--keys", "2", "--seed", "1",
         "--speed", "10", "--language", "de", "--state-dir", str(state)],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "enrolled: 6 of 6" in result.stdout
    assert "Dieser Schlüssel hat schon eine PIN" in result.stdout, "the used key's remedy, in the station's language"
    config, private = str(state / "station.toml"), str(state / "escrow-private.pem")
    assert main(["--config", config, "pins", "export", "--private-key", private, "--format", "html"]) == 0
    letters = capsys.readouterr().out.split('<section class="letter"')[1:]
    languages = sorted(re.search(r'lang="(\w+)"', letter).group(1) for letter in letters)  # type: ignore[union-attr]
    assert languages == ["de", "de", "en", "es", "fr", "nl"], "the person without a preferredLanguage: German"


def test_demo_refuses_an_unknown_profile_in_one_line() -> None:
    result = subprocess.run([sys.executable, "-m", "station.cli", "demo", "--profile", "yubikey9"],
                            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode == 2 and "unknown key profile 'yubikey9'" in result.stderr
