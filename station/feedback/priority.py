"""Which state the station's lights show when several keys are in at once: the most urgent one.

A failure (the technician must pull that key) outranks a touch request (a key waits for a finger), which
outranks a fresh success (remove that key), which outranks work in progress, which outranks idle. With
intake paused, an otherwise idle station shows attention, so nobody inserts keys and waits.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum

from station.feedback.patterns import ATTENTION, FAILURE, IDLE, SUCCESS, WORKING, Pattern


class SlotSignal(IntEnum):
    """What one key slot asks of the technician; a higher value is more urgent."""

    IDLE = 0
    PAUSED = 1
    WORKING = 2
    SUCCESS = 3
    TOUCH = 4
    FAILURE = 5


PATTERN_FOR = {
    SlotSignal.IDLE: IDLE,
    SlotSignal.PAUSED: ATTENTION,
    SlotSignal.WORKING: WORKING,
    SlotSignal.SUCCESS: SUCCESS,
    SlotSignal.TOUCH: ATTENTION,
    SlotSignal.FAILURE: FAILURE,
}


def most_urgent(slots: Iterable[SlotSignal], *, paused: bool = False) -> SlotSignal:
    """The signal the lights show for these slots (PAUSED stands in for IDLE while intake is paused)."""
    floor = SlotSignal.PAUSED if paused else SlotSignal.IDLE
    return max([floor, *slots])


def pattern_for(signal: SlotSignal) -> Pattern:
    return PATTERN_FOR[signal]
