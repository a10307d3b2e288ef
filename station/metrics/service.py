"""The daemon's metrics: the registry, its bus listener, and where it is published (HTTP, a textfile, both).

``MetricsService`` is made by the daemon at start whatever the configuration (keeping the metrics costs a few
microseconds per event); it serves ``/metrics`` only when ``[metrics] listen`` is set and writes the textfile
only when ``[metrics] textfile`` is. A port that cannot be bound or a textfile that cannot be written is
logged and shown in ``station status`` (``problems``); enrolment never waits on either.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import threading
import time
from pathlib import Path
from typing import Final
from wsgiref.simple_server import WSGIServer

import requests
from prometheus_client import generate_latest, start_http_server

from station.enroll.ports import PasskeysPort
from station.events import EventBus
from station.metrics.graph import TimedPasskeys, watch_responses
from station.metrics.listener import EventMetrics
from station.metrics.registry import StationMetrics
from station.metrics.settings import MetricsSection, split_listen
from station.wire import StatusSnapshot

log = logging.getLogger(__name__)

TEXTFILE_INTERVAL: Final = 5.0
# node_exporter runs as another user: the textfile is world-readable (it holds no personal data).
TEXTFILE_MODE: Final = 0o644


class MetricsService:
    def __init__(self, settings: MetricsSection, station_id: str, bus: EventBus) -> None:
        self.settings = settings
        self.metrics = StationMetrics(station_id)
        self.problems: list[str] = []
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._written = float("-inf")
        self._unsubscribe = bus.subscribe(EventMetrics(self.metrics))

    @property
    def address(self) -> tuple[str, int] | None:
        """Where ``/metrics`` is served (the real port when ``listen`` asked for port 0)."""
        if self._server is None:
            return None
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        if not self.settings.listen:
            return
        host, port = split_listen(self.settings.listen)
        try:
            self._server, self._thread = start_http_server(port, addr=host, registry=self.metrics.registry)
        except OSError as e:
            self._problem(f"metrics: cannot listen on {self.settings.listen}: {e.strerror} → choose a free port "
                          "in [metrics] listen")
            return
        log.info("metrics served on http://%s/metrics", self.settings.listen)

    def passkeys(self, inner: PasskeysPort) -> TimedPasskeys:
        return TimedPasskeys(inner, self.metrics)

    def watch(self, session: requests.Session, graph_host: str) -> None:
        watch_responses(session, self.metrics, graph_host)

    def observe(self, status: StatusSnapshot) -> None:
        """A status snapshot the daemon's loop has just made: the gauges, then the textfile when due."""
        self.metrics.observe_status(status)
        self.refresh()

    def store_error(self) -> None:
        self.metrics.store_error()

    def heartbeat_written(self) -> None:
        self.metrics.heartbeat_written()

    def refresh(self, *, force: bool = False) -> None:
        """Write the textfile when one is configured and the last write is older than TEXTFILE_INTERVAL."""
        if not self.settings.textfile or (not force and time.monotonic() - self._written < TEXTFILE_INTERVAL):
            return
        self._written = time.monotonic()
        try:
            write_textfile(Path(self.settings.textfile), generate_latest(self.metrics.registry))
        except OSError as e:
            self._problem(f"metrics: cannot write {self.settings.textfile}: {e.strerror} → let the station user "
                          "write that directory (ReadWritePaths= in the unit)")

    def stop(self) -> None:
        self._unsubscribe()
        self.refresh(force=True)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _problem(self, message: str) -> None:
        if message not in self.problems:
            log.error("%s", message)
            self.problems.append(message)


def write_textfile(path: Path, data: bytes) -> None:
    """Replace ``path`` atomically (a temporary file in its directory, then a rename), mode 0644."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, TEXTFILE_MODE)
    try:
        try:
            os.fchmod(fd, TEXTFILE_MODE)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
