"""Hand-out documents: every field in the CSV, and letters that cannot be broken by a name."""

from __future__ import annotations

import csv
import io
from dataclasses import replace

from station.enroll.handout import Handout, to_csv, to_html
from station.enroll.pin_rules import PIN_CHANGE_BY_LETTER

ENTRY = Handout(upn="kim@contoso.com", display_name="Kim <script>alert(1)</script>", key_model="YubiKey 5 NFC",
                passkey_name="YubiKey 5 NFC 2026-11-29", pin="48213905", state="done", enrolment_id=3,
                enrolled_at="2026-11-29T10:00:00+00:00")


def test_csv_has_one_row_per_person() -> None:
    (row,) = list(csv.DictReader(io.StringIO(to_csv([ENTRY]))))
    assert row["upn"] == "kim@contoso.com" and row["pin"] == "48213905" and row["enrolment_id"] == "3"


def test_a_key_that_cannot_force_a_pin_change_gets_a_letter_that_says_so() -> None:
    by_letter = replace(ENTRY, pin_rules="applied: nothing — not enforced: " + PIN_CHANGE_BY_LETTER)
    page = to_html([by_letter])
    assert "This key cannot force a PIN change — change it at first sign-in" in page
    assert "You will be asked to change the PIN" not in page
    assert "You will be asked to change the PIN" in to_html([ENTRY])
    (row,) = list(csv.DictReader(io.StringIO(to_csv([by_letter]))))
    assert PIN_CHANGE_BY_LETTER in row["pin_rules"]


def test_letters_escape_what_they_print() -> None:
    page = to_html([ENTRY, ENTRY], organisation="Contoso IT")
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert page.count('class="letter"') == 2 and "Contoso IT" in page and "48213905" in page


def test_the_letter_states_exactly_what_the_key_enforces() -> None:
    forced = replace(ENTRY, pin_rules="applied: PIN change forced at first use; minimum PIN length 8")
    page = to_html([forced])
    assert "You will be asked to change the PIN" in page
    assert "Your new PIN must be at least 8 characters long: the key refuses a shorter one." in page

    by_letter = replace(ENTRY, pin_rules="applied: nothing — not enforced: " + PIN_CHANGE_BY_LETTER
                        + "; this key cannot enforce a minimum PIN length of 8 on a new PIN")
    page = to_html([by_letter])
    assert "You will be asked to change the PIN" not in page and "cannot force a PIN change" in page
    assert "Choose a new PIN of at least 8 characters: your organisation asks for it, though this key cannot " \
           "enforce it." in page and "the key refuses a shorter one" not in page

    off = replace(ENTRY, pin_rules="applied: nothing")
    page = to_html([off])
    assert "You will be asked to change the PIN" not in page and "You may keep this PIN" in page
    assert "at least" not in page, "no length rule: the letter names none"
