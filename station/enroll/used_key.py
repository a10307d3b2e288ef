"""A key that already has a PIN: done earlier, someone else's, refused, or reset for its new holder.

A key holding the credential of a recent enrolment is that enrolment, done; a key the inventory says holds a
live passkey is refused; any other used key is refused, or reset when policy allows and this is the
re-insertion the reset asked for. A key the inventory knows (its passkey revoked) is marked ``returned``, and
``reset`` once reset.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from fido2.ctap import CtapDevice, CtapError
from fido2.ctap2 import Ctap2

from station.enroll import endings, policy, recognise, returned
from station.enroll.ports import KeyRecord
from station.enroll.reasons import failure
from station.enroll.reset import RESET_PROMPT
from station.enroll.steps import SessionStep
from station.errors import Reason, StationError
from station.events import EnrolmentDone
from station.states import KeyState

if TYPE_CHECKING:
    from station.enroll.session import Session

log = logging.getLogger(__name__)


def reset_or_refuse(session: Session, ctap: Ctap2, device: CtapDevice, inspection: policy.Inspection) -> bool:
    """True when the key was reset and its enrolment goes on; False when the session ended here."""
    if _enrolled_earlier(session, ctap, inspection):
        return False
    ctx = session.ctx
    record = returned.identify(ctap, ctx.journal.keys, ctx.journal, inspection.aaguid, session.serial(device))
    if record is not None and KeyState(record.state).holds_live_passkey:
        endings.reject(session, returned.belongs_to(record))
        return False
    return _reset(session, ctap, inspection, record)


def _enrolled_earlier(session: Session, ctap: Ctap2, inspection: policy.Inspection) -> bool:
    """A key with a PIN that holds the credential of a recent enrolment (e.g. resolved after a restart) is
    done: the technician is told to remove it, not that it was used."""
    ctx = session.ctx
    row = recognise.enrolled_earlier(ctap, ctx.journal, inspection.aaguid, ctx.clock.time())
    if row is None:
        return False
    person = ctx.queue.get_by_id(row.person_id)
    session.set_step(SessionStep.DONE)
    session.outcome = "done"
    ctx.bus.publish(EnrolmentDone(slot=session.slot, enrolment_id=row.id, upn=person.upn if person else "",
                                  display_name=row.display_name or "",
                                  note=f"enrolled earlier (enrolment {row.id})"))
    log.info("the key in %s holds the passkey of enrolment %s: done earlier", session.slot, row.id)
    return True


def _reset(session: Session, ctap: Ctap2, inspection: policy.Inspection, record: KeyRecord | None) -> bool:
    """Reset a used key when policy allows and this is the asked-for re-insertion; else refuse it."""
    ctx, slot = session.ctx, session.slot
    if record is not None:
        ctx.journal.keys.mark(record.id, KeyState.RETURNED, only_from=(KeyState.REVOKED, KeyState.LOST))
    if ctx.policy.used_key != "reset":
        endings.reject(session, failure(Reason.PIN_ALREADY_SET, f"{inspection.model} already has a PIN"))
        return False
    now = ctx.clock.time()
    if not ctx.resets.due(slot, inspection.aaguid, now):
        ctx.resets.expect(slot, inspection.aaguid, now)
        endings.reject(session, StationError(f"{inspection.model} already has a PIN", reason=Reason.KEY_NEEDS_RESET,
                                             remedy=RESET_PROMPT, retryable=True))
        return False
    session.set_step(SessionStep.RESETTING)
    try:
        ctap.reset(event=session.cancel_event, on_keepalive=session.interrupts.on_keepalive)
    except CtapError as e:
        endings.reject(session, session.key_error(e, "reset"))
        return False
    finally:
        session.interrupts.stop_touch_timer()
    if record is not None:
        ctx.journal.keys.mark(record.id, KeyState.RESET)
    session.audit("key_reset", model=inspection.model, aaguid=inspection.aaguid,
                  key=record.identity if record is not None else None)
    return True
