"""How a session ends, decided without I/O: from what the key holds, what interrupted it and what failed.

Every failure of a session is classified here, once: a CTAP error raised while the session was cancelled
(removed, touch timeout, stall, operator, shutdown), an error whose cause the key's removal explains, a stall,
and an error that escaped the flow. ``settle`` then decides the terminal step, the reason and what becomes of
the person in the queue. The session (session.py) does the I/O these decisions call for.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Final

from fido2.ctap import CtapError

from station.enroll.reasons import failure, from_ctap
from station.enroll.steps import SessionStep
from station.errors import KeyOperationError, Reason, StationError

STALLED_REMEDY: Final = ("The key stopped answering (it kept saying it was busy). Remove it and insert it again; "
                         "if it happens again, set the key aside.")
# Failures of the person, not of the key or the station: they are marked failed, not put back in the queue.
PERSON_FAILURES: Final = frozenset({Reason.USER_NOT_FOUND, Reason.GRAPH_DENIED})
# Failures of the station's surroundings, not of a person or key: they do not count towards max_attempts.
NOT_AN_ATTEMPT: Final = frozenset({Reason.GRAPH_THROTTLED, Reason.GRAPH_UNAVAILABLE, Reason.GRAPH_UNCERTAIN,
                                   Reason.AUTH_FAILED, Reason.STORE_UNAVAILABLE, Reason.RP_ID_MISMATCH,
                                   Reason.OPERATOR_CANCELLED})
# A key error or an unexpected error: what an interruption (a removal, a stall) may explain better.
KEY_FAULTS: Final = frozenset({Reason.KEY_ERROR, Reason.INTERNAL})


class KeyHolds(Enum):
    """What this session has put on the key so far: decides the terminal state of a failure."""

    NOTHING = "nothing"
    MAYBE_PIN = "maybe_pin"
    PIN = "pin"
    CREDENTIAL = "credential"
    REGISTERED = "registered"


class StopCause(Enum):
    """Why the station itself cancelled a session (the key's removal is not one of these)."""

    OPERATOR = "cancelled by the operator"
    SHUTDOWN = "cancelled: the station is stopping"
    LEASE_LOST = "cancelled: another station took the enrolment over after its lease ran out"


@dataclass(frozen=True)
class Interrupted:
    """What has interrupted a session so far (several may have)."""

    removed: bool = False
    timed_out: bool = False
    stalled: bool = False
    stopped: StopCause | None = None

    @property
    def cancelled(self) -> bool:
        return self.removed or self.timed_out or self.stalled or self.stopped is not None


class QueueAction(Enum):
    """What becomes of the claimed person when the session ends."""

    NONE = "none"  # nobody was claimed (the key was refused)
    CHECK_LATER = "check_later"  # Graph's answer is unknown: the row is checked again, the lease handed back
    ENROLLED = "enrolled"
    MARK_FAILED = "mark_failed"
    REQUEUE = "requeue"  # back in the queue, one attempt used
    RELEASE = "release"  # back in the queue, no attempt used


@dataclass(frozen=True)
class Ending:
    error: StationError
    step: SessionStep
    queue: QueueAction


def stalled_error(doing: str, stall_limit: float) -> StationError:
    return KeyOperationError(f"{doing}: the key stopped answering (no progress for {stall_limit:g} s)",
                             reason=Reason.KEY_ERROR, remedy=STALLED_REMEDY, retryable=True)


def key_error(error: CtapError, doing: str, what: Interrupted, stall_limit: float) -> StationError:
    """The failure a CTAP error raised while ``doing`` something stands for, given what interrupted the session."""
    if not what.cancelled:
        return from_ctap(error, doing)
    if what.stalled:
        return stalled_error(doing, stall_limit)
    if what.timed_out:
        return failure(Reason.TOUCH_TIMEOUT, f"{doing}: the key was not touched in time")
    if what.removed:
        return failure(Reason.KEY_REMOVED, f"{doing}: the key was removed")
    assert what.stopped is not None
    return failure(Reason.OPERATOR_CANCELLED, f"{doing}: {what.stopped.value}")


def interruption(what: Interrupted) -> str:
    """What interrupted the session, as a clause: "the key was removed", "cancelled by the operator", ..."""
    if what.removed:
        return "the key was removed"
    if what.stalled:
        return "the key stopped answering"
    if what.timed_out:
        return "the key was not touched in time"
    return what.stopped.value if what.stopped is not None else "the session was cancelled"


def unexpected(error: Exception, step: str) -> StationError:
    """An error that escaped the flow and is not the key's malformed answer: the key's I/O, or a bug."""
    return failure(Reason.KEY_ERROR if isinstance(error, OSError) else Reason.INTERNAL,
                   f"{step}: {type(error).__name__}: {error}")


def awaits_removal(error: StationError, what: Interrupted) -> bool:
    """An unplugged key fails the I/O at once and its removal event follows a moment later: worth waiting for."""
    key_error = error.reason is Reason.KEY_ERROR or (what.stalled and error.reason in KEY_FAULTS)
    return key_error and not what.removed


def settle(error: StationError, *, what: Interrupted, holds: KeyHolds, step: str, claimed: bool,
           stall_limit: float) -> Ending:
    """How the session ends: the failure as the technician should read it, the terminal step, the queue action."""
    if what.stalled and error.reason in KEY_FAULTS:
        error = stalled_error(step, stall_limit)
    if what.removed and holds is not KeyHolds.REGISTERED and error.reason in KEY_FAULTS:
        error = failure(Reason.KEY_REMOVED, f"{step}: the key was removed")
    if not claimed:
        return Ending(error, SessionStep.REJECTED, QueueAction.NONE)
    if error.reason is Reason.GRAPH_UNCERTAIN:
        return Ending(error, SessionStep.UNCERTAIN, QueueAction.CHECK_LATER)
    if holds is KeyHolds.REGISTERED:
        return Ending(error, SessionStep.DONE, QueueAction.ENROLLED)
    terminal = SessionStep.FAILED if holds is KeyHolds.NOTHING else SessionStep.NEEDS_RESET
    if error.reason in PERSON_FAILURES:
        return Ending(error, terminal, QueueAction.MARK_FAILED)
    if counts_as_attempt(error, what):
        return Ending(error, terminal, QueueAction.REQUEUE)
    return Ending(error, terminal, QueueAction.RELEASE)


def counts_as_attempt(error: StationError, what: Interrupted) -> bool:
    """A failure uses up one of the person's attempts unless it says nothing about them or the key:
    Entra or the store could not be reached, or the operator or a shutdown cancelled the session."""
    stopped_here = what.stopped is not None and not (what.removed or what.timed_out or what.stalled)
    return error.reason not in NOT_AN_ATTEMPT and not stopped_here
