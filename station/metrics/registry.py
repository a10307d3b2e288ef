"""Every metric the station publishes, on a registry of its own (no process or platform collectors).

``StationMetrics`` holds them and offers one method per fact the daemon learns: an event (``listener``), a
Graph answer or call (``graph``), a status snapshot of the daemon's loop, a heartbeat written to the store.
Metric names and their labels are part of the product: the Grafana dashboard (contrib/grafana/station.json)
and the alert rules (contrib/prometheus/station-alerts.yml) use them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any, Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

from station import __version__
from station.metrics.labels import reason_label

PHASE_BUCKETS: Final = (0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0)
DONE_BUCKETS: Final = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
GRAPH_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
DURATION_BUCKETS: Final = (5.0, 10.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 300.0)
QUEUE_STATES: Final = ("queued", "claimed", "enrolled", "failed", "skipped")
GRAPH_OPERATIONS: Final = ("creation_options", "register", "find_method", "delete")


class StationMetrics:
    def __init__(self, station_id: str, registry: CollectorRegistry | None = None) -> None:
        self.registry = r = registry or CollectorRegistry(auto_describe=True)
        Info("station", "This station: its version and station id.", registry=r).info(
            {"version": __version__, "station_id": station_id})
        self.enrolments = Counter("station_enrolments", "Enrolments that ended here, by outcome (enrolled, "
                                  "failed, unresolved, enrolled_earlier) and reason (none when enrolled).",
                                  ["outcome", "reason"], registry=r)
        self.refusals = Counter("station_key_refusals", "Keys refused before anyone was claimed for them, by "
                                "reason and key model.", ["reason", "model"], registry=r)
        self.insert_to_prompt = Histogram("station_enrolment_insert_to_prompt_seconds", "From a key's insertion "
                                          "to the request to touch it.", buckets=PHASE_BUCKETS, registry=r)
        self.touch_to_done = Histogram("station_enrolment_touch_to_done_seconds", "From the key's answer to the "
                                       "touch (the passkey made) to done.", buckets=DONE_BUCKETS, registry=r)
        self.duration = Histogram("station_enrolment_duration_seconds", "From a key's insertion to done, the "
                                  "technician's touch included.", buckets=DURATION_BUCKETS, registry=r)
        self.graph_calls = Histogram("station_graph_call_seconds", "Graph calls an enrolment makes, by operation "
                                     "(retries and Retry-After waits included).", ["operation"],
                                     buckets=GRAPH_BUCKETS, registry=r)
        self.graph_errors = Counter("station_graph_call_errors", "Graph calls that failed, by operation and "
                                    "reason.", ["operation", "reason"], registry=r)
        self.graph_responses = Counter("station_graph_responses", "Every HTTP answer from Microsoft Graph "
                                       "(api=graph) or the sign-in service (api=login), by status; 429 is "
                                       "throttling.", ["api", "status"], registry=r)
        self.queue = Gauge("station_queue_people", "People in the queue by state (the whole store: a fleet "
                           "shares it).", ["state"], registry=r)
        self.keys_in = Gauge("station_keys_in_slots", "Keys being enrolled at this station now.", registry=r)
        self.paused = Gauge("station_intake_paused", "1 while intake is paused.", registry=r)
        self.token_ok = Gauge("station_entra_token_ok", "1 when the last token request succeeded, 0 when it "
                              "failed.", registry=r)
        self.throttled = Gauge("station_entra_throttled", "1 while Graph throttled a call in the last minute.",
                               registry=r)
        self.latency = Gauge("station_entra_last_latency_seconds", "How long the last Graph call took.",
                             registry=r)
        self.store_writable = Gauge("station_store_writable", "1 while the store takes writes.", registry=r)
        self.store_errors = Counter("station_store_errors", "Daemon passes and enrolments the store refused "
                                    "(not writable or unavailable).", registry=r)
        self.unresolved = Gauge("station_unresolved_enrolments", "Enrolments whose outcome Entra ID could not "
                                "tell yet.", registry=r)
        self.heartbeat = Gauge("station_last_heartbeat_timestamp_seconds", "When this station last wrote its "
                               "heartbeat to the store (UNIX time).", registry=r)
        self.updated = Gauge("station_last_update_timestamp_seconds", "When the daemon's loop last refreshed "
                             "these metrics (UNIX time).", registry=r)
        for state in QUEUE_STATES:
            self.queue.labels(state=state)
        for operation in GRAPH_OPERATIONS:
            self.graph_calls.labels(operation=operation)
        self.store_writable.set(1)
        self.token_ok.set(math.nan)  # unknown until the daemon's first token check: no alert fires on it
        self.latency.set(math.nan)

    def observe_status(self, status: Mapping[str, Any]) -> None:
        """The gauges from a status snapshot (``station.status``) the daemon's loop has just made."""
        queue = status.get("queue") or {}
        for state in QUEUE_STATES:
            self.queue.labels(state=state).set(int(queue.get(state, 0)))
        self.keys_in.set(sum(1 for s in status.get("slots") or [] if not s.get("outcome")))
        self.paused.set(1 if status.get("paused") else 0)
        entra = status.get("entra") or {}
        if entra.get("token_ok") is not None:
            self.token_ok.set(1 if entra["token_ok"] else 0)
        self.throttled.set(1 if entra.get("throttled") else 0)
        if entra.get("last_latency_ms") is not None:
            self.latency.set(float(entra["last_latency_ms"]) / 1000)
        self.store_writable.set(0 if status.get("store_problem") else 1)
        self.unresolved.set(len(status.get("unresolved") or []))
        self.updated.set(time.time())

    def heartbeat_written(self, at: float | None = None) -> None:
        self.heartbeat.set(time.time() if at is None else at)

    def store_error(self) -> None:
        self.store_errors.inc()

    def graph_call(self, operation: str, seconds: float, reason: str | None = None) -> None:
        self.graph_calls.labels(operation=operation).observe(seconds)
        if reason is not None:
            self.graph_errors.labels(operation=operation, reason=reason_label(reason)).inc()
