"""Every command that prints a name, with hostile names already in the store (rows written before imports
checked them, or by another tool): `station status` from a running daemon, `queue list`/`show`/`skip`/`retry`,
`queue export`, `station fleet`, their --json forms, and the PIN letters. Nothing a terminal obeys reaches
it — ESC, C1, bidi and zero-width characters are shown as escapes — names that are only unusual are shown
exactly, JSON gives back the exact data, and the daemon answers throughout."""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_harness import DaemonProcess, kill, start_daemon, write_config
from hostile_text import ALL, CONTROL, PRINTABLE, assert_terminal_safe, seed_people, unsafe_characters

from station.enroll.handout import Handout, to_csv, to_html
from station_emulator.entra import EntraEmulator

STATION_NAME = "Desk \x1b]52;c;SGFja2Vk\x07 \u202eNine"
HOSTILE_UPN = "esc\x1b]52;c;aa\x07\u202e@contoso.example"  # stored in lower case, as UPNs are


def seed(db: Path) -> dict[str, str]:
    """People with hostile names written straight into the store, as an older version could have; UPN → name."""
    people = {f"p{i}@contoso.example": name for i, name in enumerate(ALL.values())}
    people[HOSTILE_UPN] = "Hostile Upn"
    seed_people(db, people, note=CONTROL["newline_forged_log"])
    return people


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[DaemonProcess, dict[str, str]]]:
    with EntraEmulator(users=2, seed=3) as emu:
        config = write_config(emu, tmp_path)
        people = seed(tmp_path / "station.db")
        proc = start_daemon(config, env={"STATION_STATION_NAME": STATION_NAME})
        try:
            yield proc, people
        finally:
            kill(proc)


def run(daemon: DaemonProcess, *args: str) -> str:
    done = daemon.station(*args)
    assert done.returncode == 0, f"station {' '.join(args)} failed: {done.stderr}"
    assert_terminal_safe(done.stdout + done.stderr, f"station {' '.join(args)}")
    assert "Traceback" not in done.stderr
    return done.stdout


def test_every_listing_shows_hostile_names_safely(daemon: tuple[DaemonProcess, dict[str, str]]) -> None:
    proc, people = daemon
    status = run(proc, "status")
    assert "Desk \\x1b]52;c;SGFja2Vk\\x07 \\u202eNine" in status
    assert f"{PRINTABLE['brackets']} <p0@contoso.example>" in status
    assert json.loads(run(proc, "status", "--json"))["station"]["name"] == STATION_NAME

    listing = run(proc, "queue", "list")
    assert len(listing.splitlines()) == len(people), "a name added or hid a line"
    for name in PRINTABLE.values():
        assert f"  {name}  (attempts 0)" in listing
    assert "Wipe\\x1b[2J\\x1b[HScreen" in listing and "esc\\x1b]52;c;aa\\x07\\u202e@contoso.example" in listing
    rows = json.loads(run(proc, "queue", "list", "--json"))
    assert {r["upn"]: r["display_name"] for r in rows} == people

    for upn in (HOSTILE_UPN, "p0@contoso.example", f"p{list(ALL).index('newline_forged_log')}@contoso.example"):
        shown = run(proc, "queue", "show", upn)
        assert "Ann\\n<0>station.enroll: forged entry" in shown  # the note
    assert json.loads(run(proc, "queue", "show", HOSTILE_UPN, "--json"))["upn"] == HOSTILE_UPN
    assert run(proc, "queue", "skip", HOSTILE_UPN).strip() == "esc\\x1b]52;c;aa\\x07\\u202e@contoso.example skipped"
    assert "is queued again" in run(proc, "queue", "retry", HOSTILE_UPN)

    exported = run(proc, "queue", "export", "--format", "json")
    assert {r["upn"]: r["display_name"] for r in json.loads(exported)} == people
    table = proc.station("queue", "export", "--format", "csv")
    assert table.returncode == 0
    assert unsafe_characters(table.stdout.replace("\r", "").replace("\t", "")) == []
    assert len(list(csv.DictReader(io.StringIO(table.stdout, newline="")))) == len(people)

    for form in ("html", "json"):
        report = run(proc, "report", "--format", form)
        assert "Wipe\\x1b[2J\\x1b[HScreen" in report or "Wipe\\u001b[2J" in report, f"the {form} report"
    sheet = proc.station("report", "--format", "csv")
    assert sheet.returncode == 0 and unsafe_characters(sheet.stdout.replace("\r", "").replace("\t", "")) == []

    fleet = run(proc, "fleet")
    assert "Desk \\x1b]52;c;SGFja2Vk\\x07" in fleet or "daemon-test" in fleet
    json.loads(run(proc, "fleet", "--json"))

    assert proc.client().status()["station"]["name"] == STATION_NAME, "the daemon answers throughout"
    assert_terminal_safe(proc.log(), "the daemon's log")


@pytest.mark.parametrize("name", list(ALL.values()), ids=list(ALL))
def test_pin_letters_show_hostile_names_as_text(name: str) -> None:
    entry = Handout(upn="kim@contoso.example", display_name=name, key_model="Yubi\x1b[31mKey", passkey_name=name,
                    pin="48213905", state="done", enrolment_id=1, enrolled_at="2026-11-29T10:00:00+00:00")
    letter = to_html([entry])
    assert_terminal_safe(letter, "the HTML letter")
    assert "<p class=\"pin\" dir=\"ltr\">48213905</p>" in letter and "Yubi\\x1b[31mKey" in letter
    if name in PRINTABLE.values():
        assert html.escape(name) in letter
    sheet = to_csv([entry])
    assert unsafe_characters(sheet.replace("\r", "").replace("\t", "")) == []
    row = next(csv.DictReader(io.StringIO(sheet, newline="")))
    assert row["pin"] == "48213905"
    assert not row["display_name"].startswith(("=", "+", "-", "@"))
