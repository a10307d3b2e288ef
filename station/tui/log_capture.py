"""While the dashboard owns the terminal, log records must not be written over it.

``captured_logs(app, log_file)`` swaps the root logger's terminal handlers for one that shows warnings
and errors in the dashboard's event log (through a message, from whatever thread logged), plus an
optional file that keeps every record; the terminal handlers come back when the dashboard closes.
``terminal_logs_replaced(file_handler(path))`` keeps a kiosk's whole run (start and stop too) off the
terminal.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from textual.app import App

from station.events import StatusNote
from station.files import create_private_file, private_dir, restrict_to_owner
from station.logsetup import LineSafeFormatter, mask_secrets
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
        self.app.post_message(EventArrived(StatusNote(level=LEVELS.get(record.levelno, "info"), message=message,
                                                      source=record.name, at=record.created)))


def _writes_to_terminal(handler: logging.Handler) -> bool:
    return isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler) and \
        getattr(handler, "stream", None) in (sys.stderr, sys.stdout, sys.__stderr__, sys.__stdout__)


def file_handler(path: Path) -> logging.Handler:
    """Every record, with its time, into ``path`` (created 0600, its directory 0700; an older one made 0600)."""
    private_dir(path.parent)
    create_private_file(path)
    restrict_to_owner(path)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(LineSafeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    return handler


@contextmanager
def terminal_logs_replaced(*replacements: logging.Handler) -> Iterator[None]:
    """The root logger's terminal handlers give way to ``replacements`` until the block ends."""
    root = logging.getLogger()
    terminal = [h for h in root.handlers if _writes_to_terminal(h)]
    for handler in terminal:
        root.removeHandler(handler)
    for handler in replacements:
        root.addHandler(handler)
    try:
        yield
    finally:
        for handler in replacements:
            root.removeHandler(handler)
            handler.close()
        for handler in terminal:
            root.addHandler(handler)


def captured_logs(app: App[int], log_file: Path | None = None) -> AbstractContextManager[None]:
    """Warnings and errors into the dashboard's event log (and everything into ``log_file``), none on the terminal."""
    extra = [file_handler(log_file)] if log_file is not None else []
    return terminal_logs_replaced(DashboardLogHandler(app), *extra)
