"""The states a person and an enrolment journal row go through, shared by the store and the engine.

Pure enums (no database or device imports), so the engine can name states without importing the store.
"""

from __future__ import annotations

from enum import StrEnum


class PersonState(StrEnum):
    QUEUED = "queued"
    CLAIMED = "claimed"
    ENROLLED = "enrolled"
    FAILED = "failed"
    SKIPPED = "skipped"


class JournalState(StrEnum):
    """Where one enrolment stands. Each state is persisted before the next side effect."""

    CLAIMED = "claimed"
    PIN_ESCROWED = "pin_escrowed"
    PIN_SET = "pin_set"
    CREDENTIAL_MADE = "credential_made"
    REGISTERING = "registering"
    REGISTERED = "registered"
    DONE = "done"
    FAILED = "failed"
    NEEDS_RESET = "needs_reset"
    ABANDONED = "abandoned"

    @property
    def terminal(self) -> bool:
        return self in (JournalState.DONE, JournalState.FAILED, JournalState.NEEDS_RESET, JournalState.ABANDONED)


class KeyState(StrEnum):
    """Where a key Station enrolled stands in the inventory.

    ``revoking``: a revocation is under way (its intent recorded before Graph's DELETE; re-running the
    command finishes it). ``lost`` (a key lost or stolen) and ``revoked`` (its holder left, or the key was
    replaced) both mean the passkey is deleted in Entra ID. ``returned``: a revoked key came back to a
    station, not reset yet. ``reset``: a station reset it; the key holds nothing any more.
    """

    ACTIVE = "active"
    REVOKING = "revoking"
    REVOKED = "revoked"
    LOST = "lost"
    RETURNED = "returned"
    RESET = "reset"

    @property
    def holds_live_passkey(self) -> bool:
        """Entra ID may still have this key's passkey: the key must not go to anyone else."""
        return self in (KeyState.ACTIVE, KeyState.REVOKING)
