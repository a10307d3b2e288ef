"""The key inventory and its lifecycle as the control socket and the dashboard ask for them.

Commands (``station.control``): ``keys`` (read-only) lists the inventory, optionally filtered by ``state`` and
by ``text`` (part of a name, UPN, serial or model); ``revoke_key`` (``identity``, ``reason``) and
``replace_key`` (``upn``) change it and are for privileged peers only. Answers are JSON-ready dicts.
"""

from __future__ import annotations

from typing import Any, Final

from station.errors import ControlError, InvalidStateError, NotFoundError, Reason
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

    def __init__(self, store: Store, passkeys: Deleter) -> None:
        self.store = store
        self.passkeys = passkeys

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
        raise ControlError(f"unknown command {cmd!r}", reason=Reason.CONTROL_INVALID)


def _outcome(result: Revoked) -> dict[str, Any]:
    return {**result.key.to_dict(), "changed": result.changed, "already_gone": result.already_gone}
