"""Logging for a journald-friendly daemon: sd-daemon level prefixes on stderr, or JSON lines.

A filter masks anything that looks like a bearer token or a JWT, as a last line of defence;
the code never logs a PIN, token or secret in the first place.

Names and UPNs come from a directory many people can write to, so no log line can be forged with them:
the arguments of a record are shown with ``station.text.visible`` (a newline, CR or ESC in a UPN becomes
``\n``, ``\r``, ``\x1b``), and what still spans lines — a traceback, a message the code writes on several
lines — goes out as continuation lines that carry the record's own priority prefix and are indented, so a
line can never start with a ``<N>`` priority or a logger name of its choosing. JSON lines stay valid JSON.
"""

from __future__ import annotations

import json
import logging
import numbers
import re
import sys
import time
from collections.abc import Mapping
from typing import Any

from station.text import visible

_SD_PREFIX = {
    logging.DEBUG: "<7>",
    logging.INFO: "<6>",
    logging.WARNING: "<4>",
    logging.ERROR: "<3>",
    logging.CRITICAL: "<2>",
}
_SECRETISH = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


def mask_secrets(text: str) -> str:
    return _SECRETISH.sub(lambda m: (m.group(1) or "") + "***", text)


class _Shown:
    """A log argument as ``%s`` or ``%r`` shows it: with its control characters escaped."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value

    def __str__(self) -> str:
        return visible(self.value)

    def __repr__(self) -> str:
        return visible(repr(self.value))


def _shown_args(args: Any) -> Any:
    def shown(value: object) -> object:
        return value if isinstance(value, numbers.Number) else _Shown(value)

    if isinstance(args, tuple):
        return tuple(shown(a) for a in args)
    if isinstance(args, Mapping):
        return {k: shown(v) for k, v in args.items()}
    return args


def safe_message(record: logging.LogRecord) -> str:
    """The record's message with its arguments' control characters escaped (the format string's own line
    breaks stay)."""
    saved = record.args
    record.args = _shown_args(saved)
    try:
        return record.getMessage()
    finally:
        record.args = saved


class LineSafeFormatter(logging.Formatter):
    """Formats as ``logging.Formatter`` does, but a record's arguments cannot add a line, and every further
    line (a traceback, a multi-line message) is indented under the record's own prefix."""

    def prefix(self, record: logging.LogRecord) -> str:
        return ""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = safe_message(record)
        return super().formatMessage(record)

    def format(self, record: logging.LogRecord) -> str:
        lines = mask_secrets(super().format(record)).split("\n")
        prefix = self.prefix(record)
        return "\n".join(prefix + ("  " if i else "") + visible(line) for i, line in enumerate(lines))


class _JournalFormatter(LineSafeFormatter):
    def prefix(self, record: logging.LogRecord) -> str:
        return _SD_PREFIX.get(record.levelno, "<6>")


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": visible(mask_secrets(safe_message(record))),
        }
        if record.exc_info:
            exc = mask_secrets(self.formatException(record.exc_info))
            entry["exc"] = "\n".join(visible(line) for line in exc.split("\n"))
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(*, json_lines: bool = False, level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter() if json_lines else _JournalFormatter("%(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("urllib3", "msal", "asyncio"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
