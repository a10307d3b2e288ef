"""The event bus → metrics: phase durations come from the events' own times, a key recognised as enrolled
earlier is not a new enrolment, an unknown Entra outcome is ``unresolved``, and a value outside the bounded
sets becomes ``other`` — fed through a real EventBus as the engine publishes."""

from __future__ import annotations

import math

from prometheus_client import CollectorRegistry, generate_latest

from station.events import (
    EnrolmentDone,
    EnrolmentFailed,
    EventBus,
    KeyAttached,
    KeyInspected,
    KeyRejected,
    PersonClaimed,
    StepChanged,
    TouchRequired,
)
from station.metrics.listener import EventMetrics
from station.metrics.registry import StationMetrics

AAGUID = "cb69481e-8ff7-4039-93ec-0a2729a154a8"


def fed(*events: object) -> tuple[StationMetrics, CollectorRegistry]:
    registry = CollectorRegistry()
    metrics = StationMetrics("kiosk-1", registry)
    bus = EventBus()
    bus.subscribe(EventMetrics(metrics))
    for event in events:
        bus.publish(event)  # type: ignore[arg-type]
    bus.flush()
    bus.close()
    return metrics, registry


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    value = registry.get_sample_value(name, labels)
    return math.nan if value is None else value


def test_an_enrolment_fills_each_phase_from_the_events_times() -> None:
    _, registry = fed(
        KeyAttached(slot="USB 1", transport="usb", fingerprint="fp", at=100.0),
        KeyInspected(slot="USB 1", model="YubiKey 5 Series", aaguid=AAGUID, at=100.2),
        PersonClaimed(slot="USB 1", enrolment_id=7, upn="kim@contoso.com", display_name="Kim", at=100.3),
        TouchRequired(slot="USB 1", enrolment_id=7, at=101.5),
        StepChanged(slot="USB 1", enrolment_id=7, step="touch", at=101.6),
        StepChanged(slot="USB 1", enrolment_id=7, step="registering", at=109.0),
        EnrolmentDone(slot="USB 1", enrolment_id=7, upn="kim@contoso.com", display_name="Kim", at=109.4),
    )
    assert sample(registry, "station_enrolments_total", outcome="enrolled", reason="none") == 1
    assert sample(registry, "station_enrolment_insert_to_prompt_seconds_sum") == 1.5
    assert math.isclose(sample(registry, "station_enrolment_touch_to_done_seconds_sum"), 0.4)
    assert math.isclose(sample(registry, "station_enrolment_duration_seconds_sum"), 9.4)
    assert b"kim" not in generate_latest(registry).lower()


def test_a_key_enrolled_earlier_an_unknown_outcome_and_unbounded_values() -> None:
    _, registry = fed(
        KeyAttached(slot="USB 1", transport="usb", fingerprint="fp1"),
        KeyInspected(slot="USB 1", model="YubiKey 5 Series", aaguid=AAGUID),
        EnrolmentDone(slot="USB 1", enrolment_id=3, upn="kim@contoso.com", display_name="Kim",
                      note="enrolled earlier (enrolment 3)"),
        KeyAttached(slot="USB 2", transport="usb", fingerprint="fp2"),
        PersonClaimed(slot="USB 2", enrolment_id=8, upn="ola@contoso.com", display_name="Ola"),
        EnrolmentFailed(slot="USB 2", enrolment_id=8, upn="ola@contoso.com", reason="graph_uncertain", message="",
                        remedy="", retryable=True),
        KeyAttached(slot="USB 3", transport="usb", fingerprint="fp3"),
        KeyInspected(slot="USB 3", model=f"Security key (AAGUID {AAGUID})", aaguid=AAGUID),
        KeyRejected(slot="USB 3", reason="ola@contoso.com", message="", remedy=""),
        KeyRejected(slot="USB 9", reason="pin_already_set", message="", remedy=""),
    )
    assert sample(registry, "station_enrolments_total", outcome="enrolled_earlier", reason="none") == 1
    assert math.isnan(sample(registry, "station_enrolments_total", outcome="enrolled", reason="none"))
    assert sample(registry, "station_enrolments_total", outcome="unresolved", reason="graph_uncertain") == 1
    assert sample(registry, "station_key_refusals_total", reason="other", model="unknown") == 1
    assert b"contoso" not in generate_latest(registry)


def test_gauges_follow_the_status_snapshot_and_unknown_health_is_no_alarm() -> None:
    metrics, registry = fed()
    assert math.isnan(sample(registry, "station_entra_token_ok")), "no token check yet: neither ok nor failing"
    metrics.observe_status({"queue": {"queued": 5, "enrolled": 2}, "paused": True,
                            "slots": [{"slot": "USB 1"}, {"slot": "USB 2", "outcome": "done"}],
                            "entra": {"token_ok": False, "throttled": True, "last_latency_ms": 250.0},
                            "store_problem": "store not writable: disk full", "unresolved": [{}, {}]})
    assert sample(registry, "station_queue_people", state="queued") == 5
    assert sample(registry, "station_queue_people", state="failed") == 0
    assert sample(registry, "station_keys_in_slots") == 1
    assert sample(registry, "station_intake_paused") == 1
    assert sample(registry, "station_entra_token_ok") == 0
    assert sample(registry, "station_entra_throttled") == 1
    assert sample(registry, "station_entra_last_latency_seconds") == 0.25
    assert sample(registry, "station_store_writable") == 0
    assert sample(registry, "station_unresolved_enrolments") == 2
