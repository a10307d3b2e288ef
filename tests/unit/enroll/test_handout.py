"""Hand-out documents: every field in the CSV, and letters that cannot be broken by a name."""

from __future__ import annotations

import csv
import io

from station.enroll.handout import Handout, to_csv, to_html

ENTRY = Handout(upn="kim@contoso.com", display_name="Kim <script>alert(1)</script>", key_model="YubiKey 5 NFC",
                passkey_name="YubiKey 5 NFC 2026-11-29", pin="48213905", state="done", enrolment_id=3,
                enrolled_at="2026-11-29T10:00:00+00:00")


def test_csv_has_one_row_per_person() -> None:
    (row,) = list(csv.DictReader(io.StringIO(to_csv([ENTRY]))))
    assert row["upn"] == "kim@contoso.com" and row["pin"] == "48213905" and row["enrolment_id"] == "3"


def test_letters_escape_what_they_print() -> None:
    page = to_html([ENTRY, ENTRY], organisation="Contoso IT")
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert page.count('class="letter"') == 2 and "Contoso IT" in page and "48213905" in page
