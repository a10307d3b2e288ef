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
