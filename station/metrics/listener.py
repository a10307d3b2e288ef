"""The event bus → metrics: what happens to each key, told by the events the engine already publishes.

Per slot it remembers when the key came in, its model, when the touch was asked for and when the key answered
it, and which enrolment it claimed; the times are the events' own (``Event.at``), so a late delivery does not
stretch them. The answer to the touch is the first step after ``touch`` once the touch was asked for.
An ``EnrolmentDone`` for an enrolment this station did not claim in that slot (a key recognised as enrolled
earlier) counts as ``enrolled_earlier``, not as a new enrolment.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from station.errors import Reason
from station.events import (
    EnrolmentDone,
    EnrolmentFailed,
    Event,
    KeyAttached,
    KeyInspected,
    KeyRejected,
    PersonClaimed,
    StepChanged,
    TouchRequired,
)
from station.metrics.labels import UNKNOWN_MODEL, ModelLabels, reason_label
from station.metrics.registry import StationMetrics

STORE_REASONS = frozenset({Reason.STORE_NOT_WRITABLE.value, Reason.STORE_UNAVAILABLE.value})


@dataclass
class _Slot:
    attached_at: float
    model: str = UNKNOWN_MODEL
    prompted_at: float | None = None
    touched_at: float | None = None
    claimed: set[int] = field(default_factory=set)


class EventMetrics:
    """A bus listener; ``EventBus.subscribe(EventMetrics(metrics))``."""

    def __init__(self, metrics: StationMetrics) -> None:
        self.metrics = metrics
        self.models = ModelLabels()
        self._slots: dict[str, _Slot] = {}
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        with self._lock:
            self._on(event)

    def _on(self, event: Event) -> None:
        m = self.metrics
        if isinstance(event, KeyAttached):
            self._slots[event.slot] = _Slot(attached_at=event.at)
            return
        slot = self._slots.get(getattr(event, "slot", ""))
        if slot is None:
            return
        if isinstance(event, KeyInspected):
            slot.model = self.models.label(event.model, event.aaguid)
        elif isinstance(event, PersonClaimed):
            slot.claimed.add(event.enrolment_id)
        elif isinstance(event, TouchRequired) and slot.prompted_at is None:
            slot.prompted_at = event.at
            m.insert_to_prompt.observe(max(0.0, event.at - slot.attached_at))
        elif isinstance(event, StepChanged):
            if slot.prompted_at is not None and slot.touched_at is None and event.step != "touch":
                slot.touched_at = event.at
        elif isinstance(event, KeyRejected):
            m.refusals.labels(reason=reason_label(event.reason), model=slot.model).inc()
            self._count_store(event.reason)
        elif isinstance(event, EnrolmentDone):
            if event.enrolment_id not in slot.claimed:
                m.enrolments.labels(outcome="enrolled_earlier", reason="none").inc()
                return
            m.enrolments.labels(outcome="enrolled", reason="none").inc()
            if slot.touched_at is not None:
                m.touch_to_done.observe(max(0.0, event.at - slot.touched_at))
            m.duration.observe(max(0.0, event.at - slot.attached_at))
        elif isinstance(event, EnrolmentFailed):
            outcome = "unresolved" if event.reason == Reason.GRAPH_UNCERTAIN.value else "failed"
            m.enrolments.labels(outcome=outcome, reason=reason_label(event.reason)).inc()
            self._count_store(event.reason)

    def _count_store(self, reason: str) -> None:
        if reason in STORE_REASONS:
            self.metrics.store_error()
