"""The key inventory and its lifecycle as the control socket and the dashboard ask for them.

Commands (``station.control``): ``keys`` (read-only) lists the inventory, optionally filtered by ``state`` and
by ``text`` (part of a name, UPN, serial or model); ``revoke_key`` (``identity``, ``reason``),
``replace_key`` (``upn``) and ``handout`` (``upn``, optionally ``key_serial`` and ``prepare_key``: hand a key out
for the person to register with a Temporary Access Pass, as ``station handout`` does) change it and are for
privileged peers only. Answers are JSON-ready dicts; a hand-out's answer never holds its pass, only when it expires.
"""

from __future__ import annotations

from typing import Any, Final

from station.config import Config
from station.entra import EntraClient
from station.errors import ControlError, InvalidStateError, NotFoundError, Reason
from station.lifecycle.handout_desk import HandoutDesk
from station.lifecycle.revoke import Deleter, Revoked, RevokeReason, revoke
from station.states import KeyState, PersonState
from station.store import Store
from station.store.inventory import KeyFilter, KeyView

MAX_TEXT: Final = 320
MAX_ROWS: Final = 5000


def _arg(request: dict[str, Any], name: str, *, required: bool = True) -> str:
    value = request.get(name, "" if not required else None)
    if not isinstance(value, str) or len(value) > MAX_TEXT or (required and not value.strip()):
        raise ControlError(f"'{name}' must be a string of at most {MAX_TEXT} characters", reason=Reason.CONTROL_INVALID,
                           remedy=f"Send {name} as a JSON string.")
    return value.strip()


def _matches(key: KeyView, text: str) -> bool:
    needle = text.lower()
    return any(needle in (value or "").lower() for value in (key.upn, key.display_name, key.identity, key.model))


def replace_person(store: Store, passkeys: Deleter, upn: str) -> list[Revoked]:
    """Revoke every live key of the person (reason replaced) and queue them ahead of everyone waiting."""
    person = store.queue.get(upn)
    if person.state == PersonState.CLAIMED.value:
        raise InvalidStateError(f"{person.upn} is being enrolled (claimed by a station); not replaced",
                                remedy="Wait until that enrolment ends, then try again.")
    keys = store.inventory.of_person(person.id)
    if not keys:
        raise NotFoundError(f"{person.upn} holds no key Station enrolled",
                            remedy="Check with 'station keys list --person UPN'.")
    done = [revoke(store.inventory, passkeys, store.audit, store.queue, k, RevokeReason.REPLACED) for k in keys]
    store.inventory.requeue_ahead(person.id, "replacing a revoked key")
    store.audit.record("key_replace_queued", person_id=person.id)
    return done


class KeyService:
    """Answers the key commands from the station's store and its Entra passkeys client."""

    def __init__(self, store: Store, passkeys: Deleter, handouts: HandoutDesk | None = None) -> None:
        self.store = store
        self.passkeys = passkeys
        self.handouts = handouts

    @classmethod
    def for_station(cls, cfg: Config, store: Store, client: EntraClient) -> KeyService:
        """The key commands of a station's daemon, hand-outs included (sealed to its escrow key)."""
        return cls(store, client.passkeys, HandoutDesk(store, client, cfg.delegation,
                                                       cfg.enrolment.escrow_public_key, cfg.station.id))

    def handle(self, cmd: str, request: dict[str, Any]) -> dict[str, Any]:
        if cmd == "keys":
            state = _arg(request, "state", required=False) or None
            if state is not None and state not in {s.value for s in KeyState}:
                raise ControlError(f"unknown key state {state!r}", reason=Reason.CONTROL_INVALID,
                                   remedy=f"Use one of: {', '.join(s.value for s in KeyState)}.")
            text = _arg(request, "text", required=False)
            keys = [k for k in self.store.inventory.find(KeyFilter(state=state)) if not text or _matches(k, text)]
            return {"ok": True, "keys": [k.to_dict() for k in keys[-MAX_ROWS:]]}
        if cmd == "revoke_key":
            identity, reason = _arg(request, "identity"), _arg(request, "reason")
            if reason not in {r.value for r in RevokeReason}:
                raise ControlError(f"unknown reason {reason!r}", reason=Reason.CONTROL_INVALID,
                                   remedy=f"Use one of: {', '.join(r.value for r in RevokeReason)}.")
            keys = self.store.inventory.by_serial(identity)
            if not keys:
                raise NotFoundError(f"no key {identity!r} in the inventory", remedy="Refresh the list of keys.")
            done = [revoke(self.store.inventory, self.passkeys, self.store.audit, self.store.queue, k,
                           RevokeReason(reason)) for k in keys]
            return {"ok": True, "keys": [_outcome(r) for r in done]}
        if cmd == "replace_key":
            done = replace_person(self.store, self.passkeys, _arg(request, "upn"))
            return {"ok": True, "keys": [_outcome(r) for r in done]}
        if cmd == "handout":
            if self.handouts is None:
                raise ControlError("this station hands no keys out", reason=Reason.CONTROL_INVALID,
                                   remedy="Hand the key out with 'station handout --upn UPN'.")
            prepare = request.get("prepare_key")
            if prepare is not None and not isinstance(prepare, bool):
                raise ControlError("'prepare_key' must be true or false", reason=Reason.CONTROL_INVALID,
                                   remedy="Send prepare_key as a JSON boolean, or leave it out for the default.")
            handout = self.handouts.hand_out(_arg(request, "upn"),
                                             key_serial=_arg(request, "key_serial", required=False) or None,
                                             prepare_key=prepare)
            return {"ok": True, "handout": handout.to_dict()}
        raise ControlError(f"unknown command {cmd!r}", reason=Reason.CONTROL_INVALID)


def _outcome(result: Revoked) -> dict[str, Any]:
    return {**result.key.to_dict(), "changed": result.changed, "already_gone": result.already_gone}
