"""Revoke a key: delete its passkey in Entra ID (Graph ``DELETE …/fido2Methods/{id}``) and record why.

Write-ahead: the inventory row goes to ``revoking`` (with the reason) before the DELETE and to ``lost`` or
``revoked`` after it. A crash in between leaves ``revoking``; running the command again sends the DELETE
again, and Graph's 404 (already deleted) counts as done. A key already revoked is left as it is.
"""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Protocol

from station.errors import GraphError, Reason
from station.states import KeyState, PersonState
from station.store.inventory import Inventory, KeyView

log = logging.getLogger(__name__)

# Graph's DELETE …/fido2Methods/{id} for another user: the least privileged application permission, then the
# higher one (learn.microsoft.com, fido2authenticationmethod-delete).
DELETE_PERMISSIONS: Final = ("UserAuthMethod-Passkey.ReadWrite.All", "UserAuthenticationMethod.ReadWrite.All")
GRANT_DELETE: Final = (f"Grant the app {DELETE_PERMISSIONS[0]} or {DELETE_PERMISSIONS[1]} (application "
                       "permission) and admin-consent it.")
RETRY_AFTER_GRANT: Final = f"{GRANT_DELETE} Then run the command again: the key stays 'revoking' until then."


class RevokeReason(StrEnum):
    LOST = "lost"
    STOLEN = "stolen"
    LEFT = "left"
    REPLACED = "replaced"

    @property
    def final_state(self) -> KeyState:
        return KeyState.LOST if self in (RevokeReason.LOST, RevokeReason.STOLEN) else KeyState.REVOKED


class Deleter(Protocol):
    def delete(self, user_id: str, method_id: str) -> bool: ...


class AuditLog(Protocol):
    def record(self, kind: str, *, person_id: int | None = None, enrolment_id: int | None = None,
               **detail: object) -> None: ...


class PersonMarker(Protocol):
    def get_by_id(self, person_id: int) -> object: ...
    def mark(self, person_id: int, state: PersonState, note: str = "") -> None: ...


@dataclass(frozen=True)
class Revoked:
    key: KeyView
    changed: bool  # False: the key was revoked before; nothing was done
    already_gone: bool = False  # Entra ID no longer had the passkey (Graph said 404)


def revoke(inventory: Inventory, passkeys: Deleter, audit: AuditLog, people: PersonMarker, key: KeyView,
           reason: RevokeReason) -> Revoked:
    """Revoke one key (idempotent; finishes a revocation a crash interrupted)."""
    if key.state not in (KeyState.ACTIVE, KeyState.REVOKING):
        return Revoked(key, changed=False)
    key = inventory.begin_revoke(key.id, reason.value)
    reason = RevokeReason(key.reason or reason.value)
    audit.record("key_revoking", person_id=key.person_id, enrolment_id=key.enrolment_id, key=key.identity,
                 reason=reason.value, method_id=key.method_id)
    gone = False
    if key.method_id:
        try:
            gone = not passkeys.delete(key.object_id or key.upn, key.method_id)
        except GraphError as e:
            if e.status == 403 and e.reason is Reason.GRAPH_DENIED:
                raise GraphError(f"Entra ID refused to delete the passkey of {key.upn} ({e.message})",
                                 status=403, reason=Reason.GRAPH_DENIED, remedy=RETRY_AFTER_GRANT) from e
            raise
    key = inventory.finish_revoke(key.id, reason.final_state)
    audit.record("key_revoked", person_id=key.person_id, enrolment_id=key.enrolment_id, key=key.identity,
                 reason=reason.value, state=key.state, already_gone=gone)
    _tell_person(inventory, people, key, reason)
    log.info("key %s of %s revoked (%s)%s", key.identity, key.upn, reason.value,
             ": Entra ID had already deleted the passkey" if gone else "")
    return Revoked(key, changed=True, already_gone=gone)


def _tell_person(inventory: Inventory, people: PersonMarker, key: KeyView, reason: RevokeReason) -> None:
    """An enrolled person left with no live key is enrolled no more: skipped, with why and what to do."""
    if any(KeyState(k.state).holds_live_passkey for k in inventory.of_person(key.person_id)):
        return
    person = people.get_by_id(key.person_id)
    if getattr(person, "state", None) == PersonState.ENROLLED.value:
        people.mark(key.person_id, PersonState.SKIPPED,
                    note=f"key {key.identity} revoked ({reason.value}); 'station keys replace' gives them a new one")


def token_roles(access_token: str) -> set[str] | None:
    """The application permissions (``roles``) an Entra access token carries; None when it cannot be read."""
    parts = access_token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    roles = claims.get("roles") if isinstance(claims, dict) else None
    return {str(r) for r in roles} if isinstance(roles, list) else None


def may_revoke(roles: set[str]) -> bool:
    return bool(roles.intersection(DELETE_PERMISSIONS))
