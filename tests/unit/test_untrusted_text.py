"""station/text.py: what an import refuses or strips from a name, and how any output shows what is left."""

from __future__ import annotations

import json

import pytest
from hostile_text import ALL, CONTROL, PRINTABLE, unsafe_characters
from hypothesis import given
from hypothesis import strategies as st

from station.text import DISPLAY_NAME_MAX, cleaned, json_text, problems, visible


@pytest.mark.parametrize("name", list(ALL.values()), ids=list(ALL))
def test_visible_text_holds_nothing_a_terminal_obeys_and_keeps_printable_names(name: str) -> None:
    shown = visible(name)
    assert unsafe_characters(shown) == [] and "\n" not in shown and "\t" not in shown
    if name in PRINTABLE.values():
        assert shown == name


def test_visible_escapes_say_which_character_was_there() -> None:
    assert visible("a\x1b[2J\nb\u202ec\x9b\x00") == "a\\x1b[2J\\nb\\u202ec\\x9b\\x00"
    assert visible("Kim Ökland \u200d👩\u200d💻 \u200cفارسی") == "Kim Ökland \u200d👩\u200d💻 \u200cفارسی"


@pytest.mark.parametrize("name", list(CONTROL.values()), ids=list(CONTROL))
def test_every_control_name_is_refused_with_what_was_found_and_cleaned_to_a_safe_one(name: str) -> None:
    found = problems(name, "display_name", DISPLAY_NAME_MAX)
    assert len(found) == 1 and found[0].startswith("display_name holds U+")
    text, removed = cleaned(name)
    assert unsafe_characters(text) == [] and "\n" not in text and removed.startswith("removed ")


def test_printable_names_pass_and_length_is_measured_in_characters() -> None:
    for name in PRINTABLE.values():
        assert problems(name, "display_name", DISPLAY_NAME_MAX) == []
    assert problems("Ö" * 256, "display_name", 256) == []
    assert problems("Ö" * 257, "display_name", 256) == ["display_name is 257 characters long; at most 256 are "
                                                        "accepted"]


def test_json_text_is_the_same_data_with_nothing_a_terminal_obeys() -> None:
    data = {name: value for name, value in ALL.items()}
    text = json_text(data)
    assert json.loads(text) == data
    assert unsafe_characters(text) == [] and "\n" not in text


@given(st.text(max_size=300))
def test_any_text_is_shown_on_one_line_with_nothing_a_terminal_obeys(text: str) -> None:
    shown = visible(text)
    assert unsafe_characters(shown) == [] and "\n" not in shown and "\t" not in shown
    stripped, removed = cleaned(text)
    assert unsafe_characters(stripped) == [] and "\n" not in stripped
    assert (problems(text, "display_name", DISPLAY_NAME_MAX) == []) == (not removed and len(text) <= DISPLAY_NAME_MAX)
    assert json.loads(json_text(text)) == text
