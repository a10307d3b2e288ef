"""The enrolment's step vocabulary: every step a session reports, and what each one means.

``SessionStep`` values are the strings the journal, the events (``StepChanged``), the status snapshot and the
dashboard carry; they include every journal state (``JournalState``). The session's stall watch, the
daemon's shutdown and the dashboard derive their tables from the properties here instead of keeping their
own lists of names.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Final

from station.i18n import N_, _


class Stage(IntEnum):
    """The six stages the dashboard draws an enrolment in, in order."""

    INSPECT = 0
    CLAIM = 1
    PIN = 2
    TOUCH = 3
    REGISTER = 4
    DONE = 5


class SessionStep(StrEnum):
    ATTACHED = "attached"
    INSPECTING = "inspecting"
    RESETTING = "resetting"
    CLAIMING = "claiming"
    CLAIMED = "claimed"
    OPTIONS = "options"
    PIN_ESCROWED = "pin_escrowed"
    PIN_SET = "pin_set"
    TOUCH = "touch"
    CREDENTIAL_MADE = "credential_made"
    REGISTERING = "registering"
    REGISTERED = "registered"
    FINALISING = "finalising"
    UNCERTAIN = "uncertain"
    DONE = "done"
    FAILED = "failed"
    NEEDS_RESET = "needs_reset"
    ABANDONED = "abandoned"
    REJECTED = "rejected"

    @property
    def waits_on_key(self) -> bool:
        """The session waits on the key here (elsewhere it waits on the store or on Graph)."""
        return self in _WAITS_ON_KEY

    @property
    def before_credential(self) -> bool:
        """No credential exists yet: a session here when the station stops is cancelled at once."""
        return self.stage is not None and self.stage < Stage.REGISTER

    @property
    def stage(self) -> Stage | None:
        """The dashboard stage this step belongs to; None for a step that ends outside them."""
        return _STAGE.get(self)

    @property
    def is_failure(self) -> bool:
        """The enrolment ended failed (or its outcome is unknown); a refused key is ``REJECTED``, not a failure."""
        return self in _FAILURES

    @property
    def ends_session(self) -> bool:
        """A session reports this step as it ends; its EnrolmentDone / EnrolmentFailed / KeyRejected says how."""
        return self.is_failure or self in (SessionStep.DONE, SessionStep.REJECTED)


_WAITS_ON_KEY: Final = frozenset({
    SessionStep.ATTACHED, SessionStep.INSPECTING, SessionStep.RESETTING, SessionStep.PIN_ESCROWED,
    SessionStep.PIN_SET, SessionStep.TOUCH, SessionStep.FINALISING,
})
_STAGE: Final[dict[SessionStep, Stage]] = {
    SessionStep.ATTACHED: Stage.INSPECT, SessionStep.INSPECTING: Stage.INSPECT, SessionStep.RESETTING: Stage.INSPECT,
    SessionStep.CLAIMING: Stage.CLAIM, SessionStep.CLAIMED: Stage.CLAIM, SessionStep.OPTIONS: Stage.CLAIM,
    SessionStep.PIN_ESCROWED: Stage.PIN, SessionStep.PIN_SET: Stage.PIN,
    SessionStep.TOUCH: Stage.TOUCH,
    SessionStep.CREDENTIAL_MADE: Stage.REGISTER, SessionStep.REGISTERING: Stage.REGISTER,
    SessionStep.REGISTERED: Stage.REGISTER, SessionStep.FINALISING: Stage.REGISTER,
    SessionStep.UNCERTAIN: Stage.REGISTER,
    SessionStep.DONE: Stage.DONE,
}
_FAILURES: Final = frozenset({
    SessionStep.FAILED, SessionStep.NEEDS_RESET, SessionStep.ABANDONED, SessionStep.UNCERTAIN,
})

# Translators: an enrolment's step as the fleet view and station status show it beside a key (in English, the
# step's own name): inspecting the key, claiming a person, PIN escrowed / set, waiting for a touch, and so on.
STEP_WORDS: Final = {
    "attached": N_("attached"), "inspecting": N_("inspecting"), "resetting": N_("resetting"),
    "claiming": N_("claiming"), "claimed": N_("claimed"), "options": N_("options"), "pin_escrowed": N_("pin_escrowed"),
    "pin_set": N_("pin_set"), "touch": N_("touch"), "credential_made": N_("credential_made"),
    "registering": N_("registering"), "registered": N_("registered"), "finalising": N_("finalising"),
    "uncertain": N_("uncertain"), "done": N_("done"), "failed": N_("failed"), "needs_reset": N_("needs_reset"),
    "abandoned": N_("abandoned"), "rejected": N_("rejected"),
}


def step_word(step: str) -> str:
    """``step`` as the technician reads it, in the station's language (an unknown step as it is)."""
    return _(STEP_WORDS[step]) if step in STEP_WORDS else step
