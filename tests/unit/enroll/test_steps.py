"""The step vocabulary: every journal state is a step, and the tables derived from it say what they said."""

from __future__ import annotations

from station.enroll.steps import SessionStep, Stage
from station.states import JournalState


def test_every_journal_state_is_a_step_with_the_same_wire_value() -> None:
    assert {s.value for s in JournalState} <= {s.value for s in SessionStep}


def test_the_steps_that_wait_on_the_key() -> None:
    assert {s.value for s in SessionStep if s.waits_on_key} == {
        "attached", "inspecting", "resetting", "pin_escrowed", "pin_set", "touch", "finalising"}


def test_a_shutdown_cancels_at_once_only_the_steps_before_the_credential() -> None:
    assert {s.value for s in SessionStep if s.before_credential} == {
        "attached", "inspecting", "resetting", "claiming", "claimed", "options", "pin_escrowed", "pin_set", "touch"}


def test_the_dashboard_stage_of_each_step() -> None:
    assert SessionStep.RESETTING.stage is Stage.INSPECT and SessionStep.OPTIONS.stage is Stage.CLAIM
    assert SessionStep.TOUCH.stage is Stage.TOUCH and SessionStep.FINALISING.stage is Stage.REGISTER
    assert SessionStep.UNCERTAIN.stage is Stage.REGISTER and SessionStep.DONE.stage is Stage.DONE
    assert all(s.stage is None for s in (SessionStep.FAILED, SessionStep.NEEDS_RESET, SessionStep.ABANDONED,
                                         SessionStep.REJECTED))


def test_failures_and_the_steps_a_session_ends_in() -> None:
    assert {s.value for s in SessionStep if s.is_failure} == {"failed", "needs_reset", "abandoned", "uncertain"}
    assert {s.value for s in SessionStep if s.ends_session} == {
        "done", "failed", "needs_reset", "abandoned", "rejected", "uncertain"}
