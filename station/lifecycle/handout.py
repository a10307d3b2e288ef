"""Delegated activation: hand a key out with a Temporary Access Pass, and track whether the person registered it.

:func:`hand_out` records the hand-out, replaces any TAP the person has with a new one, seals it to the escrow
key (the pass is held in memory only as long as sealing takes) and takes the person out of the station's queue.
:func:`track` settles each waiting hand-out: ``active`` when a passkey of the key's model (AAGUID) was
registered after the TAP was made, ``expired`` when the TAP ran out, was used, or is gone without one; the
TAP is deleted once it is of no further use.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from station.enroll.ports import Sealer
from station.entra.passkeys import Fido2Method, Passkeys
from station.entra.tap import TemporaryAccessPasses
from station.errors import GraphError, InvalidStateError, StationError
from station.lifecycle.delegation_settings import DelegationSection
from station.states import KeyState, PersonState
from station.store import Store
from station.store.handouts import HandoutState, HandoutView, tap_context

log = logging.getLogger(__name__)

HANDED_OUT_NOTE = "key handed out for self-activation"
_AAGUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _epoch(iso: str) -> float:
    try:
        parsed = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def hand_out(store: Store, taps: TemporaryAccessPasses, escrow: Sealer, settings: DelegationSection, upn: str, *,
             key_serial: str | None = None, aaguid: str | None = None, station_id: str = "",
             prepare_key: bool = False) -> HandoutView:
    """Hand a key out to ``upn``: a new TAP (replacing theirs), sealed; the hand-out as the store now has it.
    With ``prepare_key`` the hand-out waits for its key at ``station_id`` (station/enroll/prepare.py)."""
    person = store.queue.get(upn)
    if person.state == PersonState.CLAIMED.value:
        raise InvalidStateError(f"{person.upn} is being enrolled at station {person.lease_station} right now",
                                remedy="Wait for that enrolment to end, then hand a key out if still needed.")
    known = store.inventory.by_serial(key_serial) if key_serial else []
    if known and KeyState(known[-1].state).holds_live_passkey and known[-1].person_id != person.id:
        raise InvalidStateError(f"key {key_serial} belongs to {known[-1].upn}: its passkey is live",
                                remedy=f"Revoke it first ('station keys revoke --serial {key_serial} --reason "
                                       "replaced'), or hand out another key.")
    model_aaguid = (aaguid or (known[-1].aaguid if known else "") or settings.default_aaguid).lower()
    model = known[-1].model if known else ""
    if model_aaguid and not _AAGUID.fullmatch(model_aaguid):
        raise StationError(f"{model_aaguid[:60]!r} is not an AAGUID",
                           remedy="Give the key model's AAGUID: 8-4-4-4-12 hexadecimal digits.")
    handout_id = store.handouts.start(person.id, key_serial=key_serial, aaguid=model_aaguid, model=model,
                                      station_id=station_id, prepare_key=prepare_key)
    try:
        tap = taps.create(person.object_id or person.upn, lifetime_minutes=settings.tap_lifetime_minutes,
                          usable_once=settings.tap_usable_once)
    except StationError as e:
        store.handouts.settle(handout_id, HandoutState.EXPIRED, note=f"no TAP could be made: {e.message}")
        raise
    store.handouts.set_tap(handout_id, method_id=tap.id, sealed=escrow.seal(tap.secret, tap_context(handout_id)),
                           start=tap.start, expires_at=tap.expires_at, usable_once=tap.usable_once)
    if person.state in (PersonState.QUEUED.value, PersonState.FAILED.value):
        store.queue.skip(person.upn, HANDED_OUT_NOTE)
    store.audit.record("key_handed_out", person_id=person.id, handout=handout_id, key_serial=key_serial,
                       aaguid=model_aaguid, tap_method_id=tap.id, tap_expires_at=tap.expires_at,
                       prepare_key=prepare_key)
    log.info("key handed out to %s (hand-out %d, TAP expires %s)", person.upn, handout_id,
             datetime.fromtimestamp(tap.expires_at, UTC).isoformat(timespec="minutes"))
    return store.handouts.get(handout_id)


@dataclass(frozen=True)
class Tracked:
    handout: HandoutView
    outcome: str  # "active", "expired" or "waiting"
    detail: str
    tap_deleted: bool = False


def _registered(h: HandoutView, methods: list[Fido2Method]) -> Fido2Method | None:
    since = h.tap_start if h.tap_start is not None else h.handed_out_at
    for method in methods:
        if h.aaguid and method.aaguid.lower() != h.aaguid:
            continue
        if _epoch(method.created) >= since:
            return method
    return None


def _track_one(store: Store, taps: TemporaryAccessPasses, passkeys: Passkeys, h: HandoutView) -> Tracked:
    user = h.object_id or h.upn
    method = _registered(h, passkeys.list_methods(user))
    live = [t for t in taps.list(user) if t.id == h.tap_method_id]
    if method is not None:
        deleted = bool(live) and taps.delete(user, live[0].id)
        store.handouts.settle(h.id, HandoutState.ACTIVE, method_id=method.id,
                              note=f"passkey {method.display_name or method.id} registered")
        store.audit.record("handout_activated", person_id=h.person_id, handout=h.id, method_id=method.id,
                           tap_deleted=deleted)
        return Tracked(h, "active", f"passkey of {method.model or method.aaguid or 'the key'} registered", deleted)
    if live and live[0].usable:
        return Tracked(h, "waiting", "TAP live, no passkey of the key's model yet")
    if not live:
        detail = "the TAP is gone (deleted in Entra ID) and no passkey of the key's model was registered"
    elif live[0].usability == "OneTimeUsed":
        detail = "the TAP was used but no passkey of the key's model was registered"
    else:
        detail = f"the TAP expired unused ({live[0].usability or 'not usable'})"
    deleted = bool(live) and taps.delete(user, live[0].id)
    store.handouts.settle(h.id, HandoutState.EXPIRED, note=detail)
    store.audit.record("handout_expired", person_id=h.person_id, handout=h.id, detail=detail, tap_deleted=deleted)
    return Tracked(h, "expired", detail, deleted)


PERSON_GONE = "Entra ID no longer knows this person (their pass is gone with them): get the key back"


def _track_or_gone(store: Store, taps: TemporaryAccessPasses, passkeys: Passkeys, h: HandoutView) -> Tracked:
    """One hand-out settled; a person deleted from Entra ID ends it (expired) without stopping the others."""
    try:
        return _track_one(store, taps, passkeys, h)
    except GraphError as e:
        if e.status != 404:
            raise
    store.handouts.settle(h.id, HandoutState.EXPIRED, note=PERSON_GONE)
    store.audit.record("handout_expired", person_id=h.person_id, handout=h.id, detail=PERSON_GONE, tap_deleted=False)
    return Tracked(h, "expired", PERSON_GONE)


def track(store: Store, taps: TemporaryAccessPasses, passkeys: Passkeys) -> list[Tracked]:
    """Settle every waiting hand-out against Entra ID; what became of each."""
    return [_track_or_gone(store, taps, passkeys, h) for h in store.handouts.find(HandoutState.HANDED_OUT)]
