"""How a session ends, as a table: what the key holds, what interrupted the session and what failed decide the
terminal step, the reason the technician reads and what becomes of the person in the queue."""

from __future__ import annotations

import pytest
from fido2.ctap import CtapError

from station.enroll.reasons import failure
from station.enroll.steps import SessionStep
from station.enroll.transitions import (
    STALLED_REMEDY,
    Interrupted,
    KeyHolds,
    QueueAction,
    StopCause,
    awaits_removal,
    key_error,
    settle,
    unexpected,
)
from station.errors import Reason

NONE = Interrupted()
REMOVED = Interrupted(removed=True)
TIMED_OUT = Interrupted(timed_out=True)
STALLED = Interrupted(stalled=True)
OPERATOR = Interrupted(stopped=StopCause.OPERATOR)
SHUTDOWN = Interrupted(stopped=StopCause.SHUTDOWN)
LIMIT = 45.0

R, H, S, Q = Reason, KeyHolds, SessionStep, QueueAction

SETTLE = [
    # what the key holds, what failed, what interrupted → terminal step, queue action, reason reported
    (H.NOTHING, R.TOUCH_TIMEOUT, TIMED_OUT, S.FAILED, Q.REQUEUE, R.TOUCH_TIMEOUT),
    (H.PIN, R.KEY_REMOVED, REMOVED, S.NEEDS_RESET, Q.REQUEUE, R.KEY_REMOVED),
    (H.PIN, R.OPERATOR_CANCELLED, OPERATOR, S.NEEDS_RESET, Q.RELEASE, R.OPERATOR_CANCELLED),
    (H.NOTHING, R.OPERATOR_CANCELLED, SHUTDOWN, S.FAILED, Q.RELEASE, R.OPERATOR_CANCELLED),
    (H.NOTHING, R.KEY_ERROR, SHUTDOWN, S.FAILED, Q.RELEASE, R.KEY_ERROR),  # a stop uses up no attempt
    (H.NOTHING, R.KEY_ERROR, REMOVED, S.FAILED, Q.REQUEUE, R.KEY_REMOVED),  # the removal explains the I/O error
    (H.PIN, R.INTERNAL, REMOVED, S.NEEDS_RESET, Q.REQUEUE, R.KEY_REMOVED),
    (H.REGISTERED, R.KEY_ERROR, REMOVED, S.DONE, Q.ENROLLED, R.KEY_ERROR),  # registered: the person is enrolled
    (H.CREDENTIAL, R.GRAPH_UNCERTAIN, NONE, S.UNCERTAIN, Q.CHECK_LATER, R.GRAPH_UNCERTAIN),
    (H.REGISTERED, R.GRAPH_UNCERTAIN, NONE, S.UNCERTAIN, Q.CHECK_LATER, R.GRAPH_UNCERTAIN),
    (H.CREDENTIAL, R.GRAPH_THROTTLED, NONE, S.NEEDS_RESET, Q.RELEASE, R.GRAPH_THROTTLED),
    (H.NOTHING, R.STORE_UNAVAILABLE, NONE, S.FAILED, Q.RELEASE, R.STORE_UNAVAILABLE),
    (H.NOTHING, R.RP_ID_MISMATCH, NONE, S.FAILED, Q.RELEASE, R.RP_ID_MISMATCH),
    (H.CREDENTIAL, R.GRAPH_BAD_REQUEST, NONE, S.NEEDS_RESET, Q.REQUEUE, R.GRAPH_BAD_REQUEST),
    (H.MAYBE_PIN, R.KEY_ERROR, NONE, S.NEEDS_RESET, Q.REQUEUE, R.KEY_ERROR),
    (H.NOTHING, R.USER_NOT_FOUND, NONE, S.FAILED, Q.MARK_FAILED, R.USER_NOT_FOUND),
    (H.CREDENTIAL, R.GRAPH_DENIED, NONE, S.NEEDS_RESET, Q.MARK_FAILED, R.GRAPH_DENIED),
    (H.REGISTERED, R.GRAPH_DENIED, NONE, S.DONE, Q.ENROLLED, R.GRAPH_DENIED),
    (H.PIN, R.INTERNAL, STALLED, S.NEEDS_RESET, Q.REQUEUE, R.KEY_ERROR),  # a stall explains it
    (H.PIN, R.KEY_ERROR, Interrupted(stalled=True, removed=True), S.NEEDS_RESET, Q.REQUEUE, R.KEY_REMOVED),
    (H.PIN, R.TOUCH_TIMEOUT, Interrupted(timed_out=True, stopped=StopCause.OPERATOR), S.NEEDS_RESET, Q.REQUEUE,
     R.TOUCH_TIMEOUT),
]


@pytest.mark.parametrize(("holds", "reason", "what", "step", "queue", "reported"), SETTLE)
def test_how_a_claimed_session_ends(holds: KeyHolds, reason: Reason, what: Interrupted, step: SessionStep,
                                    queue: QueueAction, reported: Reason) -> None:
    ending = settle(failure(reason, "touch: x"), what=what, holds=holds, step="touch", claimed=True,
                    stall_limit=LIMIT)
    assert (ending.step, ending.queue, ending.error.reason) == (step, queue, reported)


def test_a_stall_is_reported_with_its_own_remedy() -> None:
    ending = settle(failure(Reason.INTERNAL, "x"), what=STALLED, holds=KeyHolds.PIN, step="touch", claimed=True,
                    stall_limit=LIMIT)
    assert ending.error.remedy == STALLED_REMEDY and "no progress for 45 s" in ending.error.message


@pytest.mark.parametrize("what", [NONE, REMOVED, OPERATOR])
def test_a_key_refused_before_anyone_was_claimed_is_rejected(what: Interrupted) -> None:
    ending = settle(failure(Reason.AAGUID_NOT_ALLOWED, "x"), what=what, holds=KeyHolds.NOTHING, step="inspecting",
                    claimed=False, stall_limit=LIMIT)
    assert (ending.step, ending.queue) == (SessionStep.REJECTED, QueueAction.NONE)


KEY_ERRORS = [
    # the key's CTAP error, what interrupted the session → reason, words in the message
    (CtapError.ERR.OPERATION_DENIED, NONE, R.TOUCH_DENIED, "refused"),
    (CtapError.ERR.KEEPALIVE_CANCEL, NONE, R.KEY_ERROR, "KEEPALIVE_CANCEL"),  # nobody here cancelled
    (CtapError.ERR.KEEPALIVE_CANCEL, STALLED, R.KEY_ERROR, "stopped answering"),
    (CtapError.ERR.KEEPALIVE_CANCEL, TIMED_OUT, R.TOUCH_TIMEOUT, "not touched in time"),
    (CtapError.ERR.KEEPALIVE_CANCEL, REMOVED, R.KEY_REMOVED, "the key was removed"),
    (CtapError.ERR.KEEPALIVE_CANCEL, OPERATOR, R.OPERATOR_CANCELLED, "cancelled by the operator"),
    (CtapError.ERR.KEEPALIVE_CANCEL, SHUTDOWN, R.OPERATOR_CANCELLED, "the station is stopping"),
    (CtapError.ERR.KEEPALIVE_CANCEL, Interrupted(stopped=StopCause.LEASE_LOST), R.OPERATOR_CANCELLED,
     "another station"),
    (CtapError.ERR.OPERATION_DENIED, OPERATOR, R.OPERATOR_CANCELLED, "cancelled by the operator"),
    (CtapError.ERR.KEEPALIVE_CANCEL, Interrupted(removed=True, stopped=StopCause.SHUTDOWN), R.KEY_REMOVED,
     "removed"),
    (CtapError.ERR.KEEPALIVE_CANCEL, Interrupted(timed_out=True, removed=True), R.TOUCH_TIMEOUT, "not touched"),
]


@pytest.mark.parametrize(("code", "what", "reason", "words"), KEY_ERRORS)
def test_a_ctap_error_is_classified_by_what_interrupted_the_session(code: CtapError.ERR, what: Interrupted,
                                                                   reason: Reason, words: str) -> None:
    error = key_error(CtapError(code), "makeCredential", what, LIMIT)
    assert error.reason is reason and words in error.message and error.message.startswith("makeCredential: ")


def test_an_operator_cancel_is_retryable_and_uses_up_no_attempt() -> None:
    error = key_error(CtapError(CtapError.ERR.KEEPALIVE_CANCEL), "touch", OPERATOR, LIMIT)
    assert error.retryable and "cancelled" in error.remedy
    assert settle(error, what=OPERATOR, holds=KeyHolds.NOTHING, step="touch", claimed=True,
                  stall_limit=LIMIT).queue is QueueAction.RELEASE


@pytest.mark.parametrize(("reason", "what", "waits"), [
    (R.KEY_ERROR, NONE, True),
    (R.KEY_ERROR, REMOVED, False),
    (R.INTERNAL, NONE, False),
    (R.INTERNAL, STALLED, True),
    (R.TOUCH_TIMEOUT, NONE, False),
])
def test_which_failures_wait_for_the_removal_event(reason: Reason, what: Interrupted, waits: bool) -> None:
    assert awaits_removal(failure(reason, "x"), what) is waits


def test_an_unexpected_error_is_the_key_for_io_and_internal_otherwise() -> None:
    assert unexpected(OSError("gone"), "pin_set").reason is Reason.KEY_ERROR
    err = unexpected(KeyError("x"), "pin_set")
    assert err.reason is Reason.INTERNAL and err.message.startswith("pin_set: KeyError")
