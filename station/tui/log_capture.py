"""While the dashboard owns the terminal, log records must not be written over it.

``captured_logs(app, log_file)`` swaps the root logger's terminal handlers for one that shows warnings
and errors in the dashboard's event log (through a message, from whatever thread logged), plus an
optional file that keeps every record; the terminal handlers come back when the dashboard closes.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from textual.app import App

from station.logsetup import mask_secrets
from station.tui.messages import EventArrived

LEVELS = {logging.WARNING: "warning", logging.ERROR: "error", logging.CRITICAL: "error"}


class DashboardLogHandler(logging.Handler):
    """Shows a log record in the dashboard's event log as a station note."""

    def __init__(self, app: App[int], level: int = logging.WARNING) -> None:
        super().__init__(level)
        self.app = app

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = mask_secrets(record.getMessage())
        except Exception:
            self.handleError(record)
            return
        self.app.post_message(EventArrived({"kind": "StatusNote", "level": LEVELS.get(record.levelno, "info"),
                                            "message": message, "source": record.name, "at": record.created}))


def _writes_to_terminal(handler: logging.Handler) -> bool:
    return isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler) and \
        getattr(handler, "stream", None) in (sys.stderr, sys.stdout, sys.__stderr__, sys.__stdout__)


@contextmanager
def captured_logs(app: App[int], log_file: Path | None = None) -> Iterator[None]:
    root = logging.getLogger()
    terminal = [h for h in root.handlers if _writes_to_terminal(h)]
    added: list[logging.Handler] = [DashboardLogHandler(app)]
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.FileHandler(log_file, encoding="utf-8")
        file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        added.append(file_handler)
    for handler in terminal:
        root.removeHandler(handler)
    for handler in added:
        root.addHandler(handler)
    try:
        yield
    finally:
        for handler in added:
            root.removeHandler(handler)
            handler.close()
        for handler in terminal:
            root.addHandler(handler)
