"""Delegated activation end to end: `station handout` against the Entra emulator over HTTPS (real msal) with a
real SQLite store and a real escrow key pair. The letter carries a TAP the emulator accepts once; the person's
own passkey of the key's model makes `station keys verify` mark the key active and delete the TAP; an unused
TAP past its lifetime shows as expired (exit 1); a second hand-out replaces the first TAP; and the TAP is never in
the store file, the logs, the command output or the audit trail in clear."""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from enrol_harness import build_station
from test_entra_emulator_passkeys import Graph
from test_entra_emulator_tap import sign_in, taps_path
from test_queue_resolve import write_config

from station.cli import main
from station.enroll.escrow import generate_keypair
from station.events import EnrolmentDone
from station.store import open_store
from station_emulator.entra import EntraEmulator
from station_emulator.key import VirtualKey
from station_emulator.key.profiles import PROFILES

MODEL = PROFILES["yubikey5-5.7"]
OTHER = PROFILES["titan-v2"]
KEY_MODEL = str(MODEL.default_aaguid)


@pytest.fixture
def emu() -> Iterator[EntraEmulator]:
    with EntraEmulator(users=5, seed=41) as e:
        yield e


@pytest.fixture
def setup(emu: EntraEmulator, tmp_path: Path) -> tuple[str, Path]:
    """The configuration file (escrow public key, 60-minute one-time TAPs) and the escrow private key."""
    TRANSCRIPT.clear()
    public, private = generate_keypair(tmp_path / "escrow")
    config = Path(write_config(emu, tmp_path))
    config.write_text(config.read_text() + f'[enrolment]\nescrow_public_key = "{public}"\n'
                                           "[delegation]\ntap_lifetime_minutes = 60\ntap_usable_once = true\n")
    return str(config), private


TRANSCRIPT: list[str] = []  # everything the commands printed and logged (at debug level) in one test


def run(capsys: pytest.CaptureFixture[str], config: str, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["--config", config, "--verbose", *argv])
    out, err = capsys.readouterr()
    TRANSCRIPT.extend((out, err))
    return code, out, err


def transcript() -> str:
    """Output and logs, letters (which hold the TAP by design) left out."""
    return "\n".join(TRANSCRIPT)


def letters(capsys: pytest.CaptureFixture[str], config: str, private: Path, tmp_path: Path) -> list[dict[str, Any]]:
    out = tmp_path / "letters.csv"
    code, _, _ = run(capsys, config, "handout", "letters", "--private-key", str(private), "--format", "csv",
                     "--out", str(out))
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    for row in rows:  # read as a spreadsheet shows it: a pass starting with = + - @ is guarded by a leading '
        tap = row["temporary_access_pass"]
        row["temporary_access_pass"] = tap[1:] if tap[:1] == "'" and tap[1:2] in "=+-@" else tap
    return rows


def users(emu: EntraEmulator) -> list[dict[str, Any]]:
    return sorted(emu.tenant.users.values(), key=lambda u: u["userPrincipalName"])


def stored_bytes(tmp_path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in tmp_path.glob("station.db*"))


def audit_text(tmp_path: Path) -> str:
    store = open_store(f"sqlite:///{tmp_path / 'station.db'}")
    try:
        return json.dumps([(e.kind, e.detail) for e in store.audit.entries()])
    finally:
        store.close()


def test_handout_letter_self_registration_then_verify_marks_the_key_active(
        emu: EntraEmulator, setup: tuple[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, private = setup
    ann = users(emu)[0]
    upn = ann["userPrincipalName"]
    code, out, err = run(capsys, config, "handout", "--upn", upn, "--key-serial", "31337",
                         "--aaguid", KEY_MODEL)
    assert code == 0, err

    (letter,) = letters(capsys, config, private, tmp_path)
    tap = letter["temporary_access_pass"]
    assert letter["upn"] == upn and letter["key_serial"] == "31337" and letter["single_use"] == "True"
    assert letter["register_at"] == "https://mysignins.microsoft.com/security-info"
    html_out = tmp_path / "letters.html"
    assert run(capsys, config, "handout", "letters", "--private-key", str(private), "--out", str(html_out))[0] == 0
    assert html.escape(tap) in html_out.read_text(), "the letter shows the pass (as HTML text)"
    assert "mysignins.microsoft.com/security-info" in html_out.read_text()

    graph = Graph(emu)
    assert sign_in(graph, upn, tap, KEY_MODEL).status_code == 201, "the letter's TAP signs the person in"
    assert sign_in(graph, upn, tap, KEY_MODEL).status_code == 400, "and only once"

    code, out, _ = run(capsys, config, "keys", "verify", "--json")
    report = json.loads(out)["handouts"]
    assert code == 0 and report["activated"] == [upn] and report["expired"] == []
    assert graph.call("GET", taps_path(ann["id"])).json()["value"] == [], "the used TAP is deleted"
    code, out, _ = run(capsys, config, "handout", "list", "--json")
    (row,) = json.loads(out)
    assert row["state"] == "active" and row["method_id"] and row["key_serial"] == "31337"
    assert "tap_sealed" not in row
    html_report = tmp_path / "report.html"
    assert run(capsys, config, "report", "--out", str(html_report))[0] == 0
    assert "handed-out keys registered" in html_report.read_text()

    assert "key handed out to" in transcript() and "created for" in transcript(), "the logs were captured"
    assert tap.encode() not in stored_bytes(tmp_path)
    assert tap not in transcript() and tap not in audit_text(tmp_path)


def test_a_second_handout_replaces_the_first_tap_and_an_unused_one_expires(
        emu: EntraEmulator, setup: tuple[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, private = setup
    bo = users(emu)[1]
    upn = bo["userPrincipalName"]
    assert run(capsys, config, "handout", "--upn", upn, "--aaguid", KEY_MODEL)[0] == 0
    (first,) = letters(capsys, config, private, tmp_path)
    assert run(capsys, config, "handout", "--upn", upn, "--aaguid", KEY_MODEL)[0] == 0
    (second,) = letters(capsys, config, private, tmp_path)
    assert first["temporary_access_pass"] != second["temporary_access_pass"]
    graph = Graph(emu)
    assert len(graph.call("GET", taps_path(bo["id"])).json()["value"]) == 1, "never two live TAPs"
    assert sign_in(graph, upn, first["temporary_access_pass"]).status_code == 400
    states = [r["state"] for r in json.loads(run(capsys, config, "handout", "list", "--json")[1])]
    assert states == ["replaced", "handed_out"]

    code, out, _ = run(capsys, config, "handout", "verify", "--json")
    assert code == 0 and json.loads(out)["activated"] == [] and json.loads(out)["waiting"] == [upn]

    emu.advance_clock(61 * 60)
    code, out, _ = run(capsys, config, "handout", "verify", "--json")
    report = json.loads(out)
    assert code == 1 and [h["upn"] for h in report["expired"]] == [upn]
    assert "expired unused" in report["expired"][0]["note"]
    assert Graph(emu).call("GET", taps_path(bo["id"])).json()["value"] == [], "the expired TAP is deleted"
    assert letters(capsys, config, private, tmp_path) == [], "no letter for an expired hand-out"
    code, out, _ = run(capsys, config, "report", "--format", "json")
    assert code == 0 and json.loads(out)["delegated"] == {"handed_out": 0, "active": 0, "expired": 1}

    assert run(capsys, config, "handout", "--upn", upn, "--aaguid", KEY_MODEL)[0] == 0
    code, out, _ = run(capsys, config, "handout", "verify", "--json")
    assert code == 0 and json.loads(out)["expired"] == [], "handing the key out again clears the reminder"
    for tap in (first["temporary_access_pass"], second["temporary_access_pass"]):
        assert tap.encode() not in stored_bytes(tmp_path) and tap not in transcript()
        assert tap not in audit_text(tmp_path)


def test_a_passkey_of_another_model_does_not_activate_the_key(
        emu: EntraEmulator, setup: tuple[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, private = setup
    cy = users(emu)[2]
    upn = cy["userPrincipalName"]
    assert run(capsys, config, "handout", "--upn", upn, "--aaguid", KEY_MODEL)[0] == 0
    (letter,) = letters(capsys, config, private, tmp_path)
    assert sign_in(Graph(emu), upn, letter["temporary_access_pass"], str(OTHER.default_aaguid)).status_code == 201
    code, out, _ = run(capsys, config, "handout", "verify", "--json")
    report = json.loads(out)
    assert code == 1 and report["activated"] == []
    assert "used but no passkey of the key's model" in report["expired"][0]["note"]


def test_group_and_csv_forms_hand_a_key_to_each_person(
        emu: EntraEmulator, setup: tuple[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, private = setup
    group = emu.tenant.groups[emu.info.group_id]
    members = {o["id"] for o in emu.tenant.transitive_member_objects(group) if o["id"] in emu.tenant.users}
    code, _, err = run(capsys, config, "handout", "--group", emu.info.group_name, "--aaguid", KEY_MODEL)
    assert code == 0, err
    assert {r["upn"] for r in letters(capsys, config, private, tmp_path)} == {
        emu.tenant.users[m]["userPrincipalName"] for m in members}
    outsider = users(emu)[0]  # handed a key again, now with its serial
    sheet = tmp_path / "people.csv"
    sheet.write_text(f"upn,key_serial,aaguid\n{outsider['userPrincipalName']},4242,\nnobody@contoso.example,1,\n"
                     f"{users(emu)[1]['userPrincipalName']},7,not-a-model\n")
    code, _, err = run(capsys, config, "handout", "--csv", str(sheet), "--aaguid", KEY_MODEL)
    assert code == 1 and "nobody@contoso.example" in err, "an unknown person is reported, the others served"
    assert "'not-a-model' is not an AAGUID" in err
    code, _, err = run(capsys, config, "handout", "--csv", str(tmp_path / "missing.csv"))
    assert code == 1 and "cannot read" in err and "Traceback" not in err
    with pytest.raises(SystemExit) as refused:
        run(capsys, config, "handout", "--upn", outsider["userPrincipalName"], "--aaguid", "yubikey")
    assert refused.value.code == 2 and "'yubikey' is not an AAGUID" in capsys.readouterr().err
    served = letters(capsys, config, private, tmp_path)
    assert len(served) == len(members), "one letter a person: the second hand-out replaced the first"
    assert {r["upn"]: r for r in served}[outsider["userPrincipalName"]]["key_serial"] == "4242"


def test_doctor_checks_the_tap_policy_and_permission(
        emu: EntraEmulator, setup: tuple[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    config, _ = setup
    code, out, _ = run(capsys, config, "doctor")
    assert code == 0 and "OK   delegation: Temporary Access Passes can be made (60 min, one-time use" in out
    emu.tenant.tap_policy["state"] = "disabled"
    code, out, _ = run(capsys, config, "doctor")
    assert code == 1 and "FAIL delegation: the Temporary Access Pass method is disabled" in out
    emu.tenant.tap_policy.update(state="enabled", minimumLifetimeInMinutes=120)
    code, out, _ = run(capsys, config, "doctor")
    assert code == 1 and "tap_lifetime_minutes = 60 is outside the TAP policy's 120–480 minutes" in out
    emu.tenant.tap_policy["minimumLifetimeInMinutes"] = 60
    emu.tenant.app.roles.discard("UserAuthenticationMethod.ReadWrite.All")
    code, out, _ = run(capsys, config, "doctor")
    assert code == 1 and "FAIL delegation: the app may not create Temporary Access Passes" in out
    assert "UserAuthenticationMethod.ReadWrite.All" in out
    bo = users(emu)[1]["userPrincipalName"]
    code, _, err = run(capsys, config, "handout", "--upn", bo)
    assert code == 1 and "UserAuthenticationMethod.ReadWrite.All" in err, "the hand-out names the permission"
    (refused,) = json.loads(run(capsys, config, "handout", "list", "--json")[1])
    assert refused["state"] == "expired" and "no TAP could be made" in refused["note"], "left for the reminder"


def test_a_key_holder_handed_a_second_key_verifies_clean_and_a_live_key_is_not_handed_to_another(
        emu: EntraEmulator, setup: tuple[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, private = setup
    station = build_station(emu, tmp_path, prefetch=0)
    try:
        (ann,) = station.queue_users(1)
        station.keys.insert(VirtualKey("fido21"))
        station.wait(lambda: len(station.events.of(EnrolmentDone)) == 1)
        station.bus.flush()
    finally:
        station.close()
    upn = ann["userPrincipalName"]
    (enrolled,) = json.loads(run(capsys, config, "keys", "list", "--json")[1])
    bo = next(u for u in users(emu) if u["id"] != ann["id"])["userPrincipalName"]
    code, _, err = run(capsys, config, "handout", "--upn", bo, "--key-serial", enrolled["identity"])
    assert code == 1 and f"belongs to {upn}" in err and "station keys revoke" in err
    assert not Graph(emu).call("GET", taps_path(bo)).json()["value"], "no TAP made for a key someone holds"

    assert run(capsys, config, "handout", "--upn", upn, "--aaguid", KEY_MODEL)[0] == 0
    (letter,) = letters(capsys, config, private, tmp_path)
    assert sign_in(Graph(emu), upn, letter["temporary_access_pass"], KEY_MODEL).status_code == 201
    code, out, _ = run(capsys, config, "keys", "verify", "--json")
    report = json.loads(out)
    assert code == 0 and report["drift"] == [], "the handed-out key's passkey is not drift"
    assert report["handouts"]["activated"] == [upn]


def test_letters_from_an_encrypted_escrow_key_need_its_passphrase(
        emu: EntraEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    public, private = generate_keypair(tmp_path / "locked", b"correct horse")
    config = Path(write_config(emu, tmp_path))
    config.write_text(config.read_text() + f'[enrolment]\nescrow_public_key = "{public}"\n')
    passphrase = tmp_path / "passphrase"
    passphrase.write_text("correct horse\n")
    passphrase.chmod(0o600)
    assert run(capsys, str(config), "handout", "--upn", users(emu)[3]["userPrincipalName"])[0] == 0
    code, _, err = run(capsys, str(config), "handout", "letters", "--private-key", str(private))
    assert code == 1 and "--passphrase-file" in err
    code, out, _ = run(capsys, str(config), "handout", "letters", "--private-key", str(private),
                       "--passphrase-file", str(passphrase), "--format", "csv")
    assert code == 0 and len(list(csv.DictReader(io.StringIO(out)))) == 1


def test_a_person_deleted_from_entra_ends_their_handout_and_the_others_are_still_checked(
        emu: EntraEmulator, setup: tuple[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    config, _ = setup
    gone, staying = users(emu)[:2]
    for person in (gone, staying):
        assert run(capsys, config, "handout", "--upn", person["userPrincipalName"], "--aaguid", KEY_MODEL)[0] == 0
    emu.tenant.remove_user(gone["id"])
    code, out, err = run(capsys, config, "handout", "verify", "--json")
    report = json.loads(out)
    assert code == 1 and report["waiting"] == [staying["userPrincipalName"]], err
    (expired,) = report["expired"]
    assert expired["upn"] == gone["userPrincipalName"] and "no longer knows this person" in expired["note"]
    code, out, _ = run(capsys, config, "keys", "verify")
    assert code == 1 and f"EXPIRED  {gone['userPrincipalName']}: Entra ID no longer knows" in out
    assert "get the key back" in out and "hand the key out again" not in out


def test_the_letter_is_in_the_persons_language_from_entra(
        emu: EntraEmulator, setup: tuple[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, private = setup
    german = next(u for u in users(emu) if u.get("preferredLanguage") == "de-DE")
    assert run(capsys, config, "handout", "--upn", german["userPrincipalName"])[0] == 0
    (letter,) = letters(capsys, config, private, tmp_path)
    assert letter["upn"] == german["userPrincipalName"] and letter["language"] == "de-DE"
    (row,) = json.loads(run(capsys, config, "handout", "list", "--json")[1])
    assert row["preferred_language"] == "de-DE"
    page = tmp_path / "letters.html"
    assert run(capsys, config, "handout", "letters", "--private-key", str(private), "--out", str(page))[0] == 0
    text = page.read_text()
    assert '<section class="letter" lang="de" dir="ltr">' in text, "the letter is in the person's language"
    assert "Ihr befristeter Zugriffspass" in text and "Den Schlüssel registrieren" in text
    assert f'<p class="tap" dir="ltr">{html.escape(letter["temporary_access_pass"])}</p>' in text
    assert "Your Temporary Access Pass" not in text
