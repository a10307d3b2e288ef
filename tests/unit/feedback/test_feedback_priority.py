"""Several keys at once: the lights show the most urgent slot."""

from __future__ import annotations

from station.feedback.patterns import ATTENTION, FAILURE, IDLE, SUCCESS, WORKING
from station.feedback.priority import SlotSignal, most_urgent, pattern_for

S = SlotSignal


def test_failure_outranks_touch_outranks_success_outranks_work_outranks_idle() -> None:
    assert most_urgent([S.WORKING, S.FAILURE, S.TOUCH, S.SUCCESS]) is S.FAILURE
    assert most_urgent([S.WORKING, S.TOUCH, S.SUCCESS]) is S.TOUCH
    assert most_urgent([S.WORKING, S.SUCCESS, S.IDLE]) is S.SUCCESS
    assert most_urgent([S.IDLE, S.WORKING]) is S.WORKING
    assert most_urgent([S.IDLE]) is S.IDLE
    assert most_urgent([]) is S.IDLE


def test_paused_shows_attention_unless_a_key_needs_more() -> None:
    assert most_urgent([], paused=True) is S.PAUSED
    assert most_urgent([S.IDLE], paused=True) is S.PAUSED
    assert most_urgent([S.WORKING], paused=True) is S.WORKING
    assert most_urgent([S.FAILURE], paused=True) is S.FAILURE


def test_each_signal_has_its_pattern() -> None:
    assert [pattern_for(s) for s in S] == [IDLE, ATTENTION, WORKING, SUCCESS, ATTENTION, FAILURE]
