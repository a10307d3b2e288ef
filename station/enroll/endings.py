"""The I/O of a session's end: the journal, the queue, the events and the audit log, as ``transitions`` decides.

``fail`` gives the key's removal a moment to explain a key error, asks ``transitions.settle`` how the session
ends, and records that; ``reject`` reports a key refused before anyone was claimed for it; ``succeed`` marks
a session whose key is done (enrolled, or prepared for a hand-out) after its caller recorded why.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import TYPE_CHECKING, Final

from station.enroll import transitions
from station.enroll.reasons import remedy_for
from station.enroll.steps import SessionStep
from station.enroll.transitions import Ending, QueueAction
from station.errors import StationError, StoreError
from station.events import EnrolmentFailed, KeyRejected
from station.states import JournalState, PersonState

if TYPE_CHECKING:
    from station.enroll.session import Session

log = logging.getLogger(__name__)

# How long a key error waits for the removal event that usually explains it (an unplugged key fails its I/O
# at once; the watcher's removal event follows a moment later).
REMOVAL_GRACE_SECONDS: Final = 1.0


def fail(session: Session, error: StationError) -> None:
    interrupts = session.interrupts
    if transitions.awaits_removal(error, interrupts.state()):
        interrupts.removed.wait(REMOVAL_GRACE_SECONDS)
    ending = transitions.settle(error, what=interrupts.state(), holds=session.holds, step=session.step,
                                claimed=session.enrolment_id is not None and session.person is not None,
                                stall_limit=interrupts.stall_limit)
    error = ending.error
    if ending.queue is QueueAction.NONE or session.enrolment_id is None or session.person is None:
        reject(session, error)
        return
    ctx, eid = session.ctx, session.enrolment_id
    session.outcome, session.reason = "failed", str(error.reason)
    session.message, session.remedy, session.ended = error.message, error.remedy or "", time.time()
    try:
        if ending.queue is QueueAction.CHECK_LATER:
            now = ctx.clock.time()
            # Due for reconciliation at once; the lease is handed back so that an operator may resolve it.
            ctx.journal.check_failed(eid, f"{error.reason}: {error.message}", now,
                                     station_id=ctx.station_id, lease_expires=now)
            session.set_step(SessionStep.UNCERTAIN)
            session.note("warning", f"enrolment {eid}: Entra's answer is unknown; "
                                    "it will be checked again before the person is retried")
        else:
            _close_row(session, ending)
    except StoreError as e:
        # The row stays as the journal has it; the running station settles it once the store takes writes.
        log.warning("enrolment %s: its failure could not be recorded: %s", eid, e.message)
    ctx.bus.publish(EnrolmentFailed(slot=session.slot, enrolment_id=eid, upn=session.person.upn,
                                    reason=str(error.reason), message=error.message,
                                    remedy=error.remedy, retryable=error.retryable))
    with contextlib.suppress(StoreError):
        session.audit("failed", reason=str(error.reason), message=error.message, key_holds=session.holds.value)
    log.warning("enrolment %s in %s failed: %s (%s)", eid, session.slot, error.message, error.reason)


def _close_row(session: Session, ending: Ending) -> None:
    ctx, error, person = session.ctx, ending.error, session.person
    assert person is not None and session.enrolment_id is not None
    ctx.journal.advance(session.enrolment_id, JournalState(ending.step.value), error_reason=str(error.reason),
                        error_message=error.message[:2000])
    session.set_step(ending.step)
    note = f"{error.reason}: {error.message}"
    if ending.queue is QueueAction.ENROLLED:
        ctx.queue.mark(person.id, PersonState.ENROLLED)
    elif ending.queue is QueueAction.MARK_FAILED:
        ctx.queue.mark(person.id, PersonState.FAILED, note=note)
    elif ending.queue is QueueAction.REQUEUE:
        ctx.queue.requeue_failed(person.id, ctx.station_id, note, ctx.policy.max_attempts)
    else:
        ctx.queue.release(person.id, ctx.station_id, note=str(error.reason))


def succeed(session: Session) -> None:
    session.set_step(SessionStep.DONE)
    session.outcome, session.ended = "done", time.time()


def reject(session: Session, error: StationError) -> None:
    session.outcome, session.reason = "rejected", str(error.reason)
    session.message, session.remedy = error.message, error.remedy or remedy_for(error.reason)
    session.ended = time.time()
    session.set_step(SessionStep.REJECTED)
    session.ctx.bus.publish(KeyRejected(slot=session.slot, reason=str(error.reason), message=error.message,
                                        remedy=error.remedy or remedy_for(error.reason)))
    try:
        session.ctx.audit.record("key_rejected", slot=session.slot, reason=str(error.reason), message=error.message)
    except StationError as e:  # e.g. the store is full: the refusal itself must still reach the technician
        log.warning("key in %s rejected; its audit entry was not written: %s", session.slot, e.message)
    log.info("key in %s rejected: %s", session.slot, error.message)
