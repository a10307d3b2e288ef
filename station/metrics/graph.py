"""Graph as the metrics see it: every HTTP answer (a requests response hook on Entra's one session) and every
call an enrolment makes (``TimedPasskeys``, a PasskeysPort around the real one)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests

from station.enroll.ports import PasskeysPort
from station.errors import StationError
from station.metrics.labels import status_label
from station.metrics.registry import StationMetrics


def watch_responses(session: requests.Session, metrics: StationMetrics, graph_host: str) -> None:
    """Count every answer ``session`` receives (each retry and redirect too) by API and status: ``graph`` for
    a Graph call (``/v1.0/…`` or ``/beta/…`` on the Graph host), ``login`` for the rest (tokens, discovery)."""
    graph = urlsplit(graph_host).netloc.lower()

    def count(response: requests.Response, *_args: Any, **_kw: Any) -> None:
        url = urlsplit(response.url)
        is_graph = url.netloc.lower() == graph and url.path.split("/")[1:2] in (["v1.0"], ["beta"])
        metrics.graph_responses.labels(api="graph" if is_graph else "login",
                                       status=status_label(response.status_code)).inc()

    session.hooks["response"].append(count)


class TimedPasskeys:
    """A PasskeysPort that times every call into ``station_graph_call_seconds`` by operation."""

    def __init__(self, inner: PasskeysPort, metrics: StationMetrics) -> None:
        self._inner = inner
        self._metrics = metrics

    def _call(self, operation: str, fn: Callable[..., Any], *args: Any) -> Any:
        started = time.monotonic()
        try:
            result = fn(*args)
        except StationError as e:
            self._metrics.graph_call(operation, time.monotonic() - started, str(e.reason))
            raise
        self._metrics.graph_call(operation, time.monotonic() - started)
        return result

    def creation_options(self, user_id: str) -> Any:
        return self._call("creation_options", self._inner.creation_options, user_id)

    def register(self, user_id: str, display_name: str, credential_id: bytes, client_data_json: bytes,
                 attestation_object: bytes, client_extension_results: Mapping[str, Any] | None = None) -> str:
        return str(self._call("register", self._inner.register, user_id, display_name, credential_id,
                              client_data_json, attestation_object, client_extension_results))

    def find_method_for_credential(self, user_id: str, credential_id: bytes) -> str | None:
        found = self._call("find_method", self._inner.find_method_for_credential, user_id, credential_id)
        return None if found is None else str(found)

    def delete(self, user_id: str, method_id: str) -> bool:
        return bool(self._call("delete", self._inner.delete, user_id, method_id))
