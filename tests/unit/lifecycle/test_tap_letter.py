"""The hand-out letter: the TAP, its expiry and the My Security Info steps; names are shown, never obeyed —
markup escaped, terminal controls and bidi overrides made visible, and a CSV cell a spreadsheet would run
written as text."""

from __future__ import annotations

import csv
import io

from station.lifecycle.tap_letter import SECURITY_INFO_URL, TapLetter, to_csv, to_html

HOSTILE = TapLetter(upn="eve@contoso.example", display_name="<script>alert(1)</script>\x1b]52;c;AAAA\x07\u202eevE",
                    key_serial="=HYPERLINK(\"http://x\")", key_model="YubiKey 5 <b>", temporary_access_pass="Ab3$k9+Q",
                    expires="2026-12-05 09:00 UTC", single_use=True, handout_id=4)


def test_the_letter_carries_the_pass_its_expiry_and_the_steps() -> None:
    page = to_html([HOSTILE], organisation="Contoso IT")
    assert "Ab3$k9+Q" in page and "2026-12-05 09:00 UTC" in page and SECURITY_INFO_URL in page
    assert "one sign-in only" in page and "Contoso IT" in page


def test_names_in_the_letter_are_text() -> None:
    page = to_html([HOSTILE])
    assert "<script>" not in page and "&lt;script&gt;" in page and "<b>" not in page
    assert "\x1b" not in page and "\x07" not in page and "\u202e" not in page


def test_a_csv_cell_a_spreadsheet_would_run_is_text() -> None:
    (row,) = csv.DictReader(io.StringIO(to_csv([HOSTILE])))
    assert row["key_serial"].startswith("'=") and row["temporary_access_pass"] == "Ab3$k9+Q"
    assert row["register_at"] == SECURITY_INFO_URL


def test_a_pass_that_starts_like_a_formula_is_guarded_in_the_csv_and_exact_in_the_letter() -> None:
    letter = TapLetter(upn="ann@contoso.example", display_name="Ann", key_serial="", key_model="", expires="soon",
                       temporary_access_pass="@x&7=Q+p", single_use=False, handout_id=1)
    (row,) = csv.DictReader(io.StringIO(to_csv([letter])))
    assert row["temporary_access_pass"] == "'@x&7=Q+p"
    assert '<p class="tap" dir="ltr">@x&amp;7=Q+p</p>' in to_html([letter])


def test_a_prepared_key_s_letter_shows_its_pin_and_says_to_enter_it_not_to_set_one() -> None:
    plain = TapLetter(upn="ann@contoso.example", display_name="Ann", key_serial="7", key_model="", expires="soon",
                      temporary_access_pass="Tap-1234", single_use=True, handout_id=1)
    prepared = TapLetter(**{**plain.__dict__, "pin": "48120593"})
    assert "set a PIN when asked" in to_html([plain]) and "PIN:" not in to_html([plain])
    page = to_html([prepared])
    assert "48120593" in page and "enter the key&#x27;s PIN printed below" in page and "set a PIN" not in page
    (row,) = csv.DictReader(io.StringIO(to_csv([prepared])))
    assert row["pin"] == "48120593"
    assert next(csv.DictReader(io.StringIO(to_csv([plain]))))["pin"] == ""
