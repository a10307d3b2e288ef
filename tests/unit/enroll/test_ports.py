"""The engine's names for journal and person states are the store's, value for value."""

from __future__ import annotations

from station.enroll.ports import PersonState as EnrolPersonState
from station.enroll.ports import Step
from station.store import JournalState, PersonState


def test_steps_are_the_journal_states() -> None:
    assert {s.value: s.terminal for s in Step} == {s.value: s.terminal for s in JournalState}


def test_person_states_match() -> None:
    assert {s.value for s in EnrolPersonState} == {s.value for s in PersonState}
