"""The daemon's metrics when ``[metrics]`` sets neither ``listen`` nor ``textfile``: every call does nothing,
and prometheus_client, its HTTP server and the metric registry are never imported (about 12 MB of an idle
daemon's memory). ``metrics_for`` picks this or ``MetricsService``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from station.enroll.ports import PasskeysPort
from station.events import EventBus
from station.metrics.settings import MetricsSection
from station.wire import StatusSnapshot

if TYPE_CHECKING:
    from station.metrics.service import MetricsService


class MetricsOff:
    address: tuple[str, int] | None = None

    def __init__(self) -> None:
        self.problems: list[str] = []

    def start(self) -> None:
        pass

    def passkeys(self, inner: PasskeysPort) -> PasskeysPort:
        return inner

    def watch(self, session: Any, graph_host: str) -> None:
        pass

    def observe(self, status: StatusSnapshot) -> None:
        pass

    def store_error(self) -> None:
        pass

    def heartbeat_written(self) -> None:
        pass

    def stop(self) -> None:
        pass


def metrics_for(settings: MetricsSection, station_id: str, bus: EventBus) -> MetricsService | MetricsOff:
    if not settings.listen and not settings.textfile:
        return MetricsOff()
    from station.metrics.service import MetricsService

    return MetricsService(settings, station_id, bus)
