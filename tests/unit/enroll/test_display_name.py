"""Display names: the template's facts, never more than 30 characters, the model shortened first."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from station.enroll.display_name import NameFacts, check_template, render_display_name


def test_template_is_rendered() -> None:
    facts = NameFacts(model="YubiKey 5 NFC", date="2026-11-29", station="Desk 1", serial="1234")
    assert render_display_name("{model} {date}", facts) == "YubiKey 5 NFC 2026-11-29"
    assert render_display_name("{model} #{serial}", facts) == "YubiKey 5 NFC #1234"


def test_the_model_is_shortened_before_the_date() -> None:
    facts = NameFacts(model="Station Virtual Key FIDO2.1 Enterprise", date="2026-11-29", station="s")
    name = render_display_name("{model} {date}", facts)
    assert len(name) <= 30 and name.endswith("2026-11-29")


def test_a_trailing_parenthesis_goes_before_the_model_is_cut() -> None:
    unknown = NameFacts(model="Security key (AAGUID 0d15ea5e-0000-4000-8000-00000000c0de)", date="2026-11-29",
                        station="s")
    assert render_display_name("{model} {date}", unknown) == "Security key 2026-11-29"
    enterprise = NameFacts(model="YubiKey 5 NFC (Enterprise Profile)", date="2026-11-29", station="s")
    assert render_display_name("{model} {date}", enterprise) == "YubiKey 5 NFC 2026-11-29"
    fits = NameFacts(model="Key (A)", date="2026-11-29", station="s")
    assert render_display_name("{model} {date}", fits) == "Key (A) 2026-11-29"


@given(st.text(min_size=0, max_size=80), st.text(max_size=40), st.text(max_size=40))
def test_never_longer_than_30_nor_empty(model: str, station: str, serial: str) -> None:
    facts = NameFacts(model=model, date="2026-11-29", station=station, serial=serial)
    name = render_display_name("{model} {serial} {station} {date}", facts)
    assert 0 < len(name) <= 30


def test_unknown_placeholders_are_refused() -> None:
    with pytest.raises(ValueError, match="colour"):
        check_template("{model} {colour}")
