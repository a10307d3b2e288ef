"""Preparing a key for a hand-out instead of enrolling it: reset when used, and given a random PIN.

How a session picks: a hand-out made with ``--prepare-key`` (or ``[delegation] prepare_key``) at this station
waits for its key (``key_handout.key_preparation`` = ``waiting``). While any does, the next key inserted here is
prepared for the oldest one it fits instead of being enrolled for the queue: a hand-out that names a serial
takes only the key with that serial (a key whose serial the station cannot read fits only hand-outs that name
none), one that names a model (AAGUID) only a key of that model. A key that fits none is refused and the
hand-outs go on waiting; with no hand-out waiting, keys are enrolled as ever, and so is a key inserted while
other keys at this station are being prepared for every waiting hand-out.

The key is blanked as any used key is (``used_key``: reset when ``[enrolment] used_key = "reset"``, on the
re-insertion asked for; refused otherwise, and always when its passkey is live for someone). Write-ahead, as
enrolments are: the PIN is sealed to the escrow key and stored on the hand-out row with the key's serial and
model (``pin_escrowed``) before the key is told; once the key took it the row says ``prepared``. A station that
stops in between leaves ``pin_escrowed``: the hand-out still waits, and the next key inserted is reset if it
got the PIN (or anything else) and given a new one, which replaces the sealed PIN. The PIN is never logged,
published or stored in clear; the person's letter opens it with the escrow private key.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from fido2.ctap import CtapError
from fido2.ctap2 import Ctap2

from station.enroll import endings, pin_protocol, policy
from station.enroll.escrow import handout_pin_context
from station.enroll.pin import effective_pin_length, generate_pin
from station.enroll.ports import HandoutBook, PendingHandout
from station.enroll.steps import SessionStep
from station.errors import ConfigError, Reason, StationError
from station.events import KeyPrepared

if TYPE_CHECKING:
    from station.enroll.session import Session

log = logging.getLogger(__name__)


def _fitting(waiting: list[PendingHandout], serial: str | None, aaguid: str) -> list[PendingHandout]:
    """The hand-outs this key fits: those naming its serial first, then the others in order."""
    named = [h for h in waiting if h.key_serial is not None and h.key_serial == serial]
    return named + [h for h in waiting if h not in named and h.key_serial is None
                    and (not h.aaguid or h.aaguid.lower() == aaguid.lower())]


def take(session: Session, serial: str | None, inspection: policy.Inspection) -> PendingHandout | None:
    """The hand-out this key is to be prepared for (held for this session); None when no hand-out waits for a
    key at this station, or another key inserted here is being prepared for each (the key is enrolled). A key
    that fits none of the waiting hand-outs is refused."""
    ctx = session.ctx
    if ctx.handouts is None:
        return None
    waiting, chosen = ctx.preparing.take(ctx.handouts.waiting_for_key(ctx.station_id),
                                         lambda free: _fitting(free, serial, inspection.aaguid))
    if not waiting:
        return None
    if chosen is None:
        asked = ", ".join(sorted({f"serial {h.key_serial}" if h.key_serial else f"model {h.aaguid or 'any'}"
                                  for h in waiting}))
        raise StationError(
            f"{len(waiting)} hand-out(s) wait for a key to prepare at this station ({asked}), none for this "
            f"{inspection.model or 'key'} (serial {serial or 'unknown'})", reason=Reason.INVALID_STATE,
            remedy="Insert the key the hand-out names ('station handout list'); keys are enrolled again once no "
                   "hand-out waits for one.")
    return chosen


@contextmanager
def holding(session: Session, handout: PendingHandout) -> Iterator[PendingHandout]:
    try:
        yield handout
    finally:
        session.ctx.preparing.release(handout.id)


def give_pin(session: Session, ctap: Ctap2, handout: PendingHandout, serial: str | None,
             inspection: policy.Inspection) -> None:
    """Draw a PIN, store it sealed on the hand-out, then set it on the (blank) key; the session ends done."""
    ctx = session.ctx
    book: HandoutBook | None = ctx.handouts
    if ctx.escrow is None or book is None:
        raise ConfigError("a key prepared for a hand-out gets a PIN sealed to the escrow key, and "
                          "enrolment.escrow_public_key is not set",
                          remedy="Set enrolment.escrow_public_key (station pins keygen --out DIR) and restart.")
    if session.cancel_event.is_set():  # removed or cancelled before the key was changed
        raise session.key_error(CtapError(CtapError.ERR.KEEPALIVE_CANCEL), "setting the PIN")
    pol, info = ctx.policy, ctap.info
    pin = generate_pin(effective_pin_length(pol.pin_length, pol.min_pin_length, info.min_pin_length,
                                            info.max_pin_length), pol.pin_alphabet)
    sealed = ctx.escrow.seal(pin, handout_pin_context(handout.id))
    if not book.pin_escrowed(handout.id, sealed=sealed, key_serial=serial, aaguid=inspection.aaguid,
                             model=inspection.model):
        raise StationError(f"the hand-out to {handout.upn} was replaced or settled while its key was inserted",
                           reason=Reason.INVALID_STATE, remedy="Remove the key; it was not changed.")
    session.set_step(SessionStep.PIN_ESCROWED)
    try:
        pin_protocol.set_pin(ctap, pin_protocol.client_pin_for(ctap), pin)
    except CtapError as e:
        raise session.key_error(e, "setting the PIN") from None
    book.key_prepared(handout.id)
    endings.succeed(session)
    ctx.audit.record("key_prepared", person_id=handout.person_id, handout=handout.id, key_serial=serial,
                     aaguid=inspection.aaguid, model=inspection.model)
    ctx.bus.publish(KeyPrepared(slot=session.slot, handout_id=handout.id, upn=handout.upn,
                                display_name=handout.display_name))
    log.info("key in %s prepared for hand-out %d (%s): reset and PIN set, sealed", session.slot, handout.id,
             handout.upn)
