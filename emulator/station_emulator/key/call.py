"""What a command in flight carries (keepalive sink, cancel flag) and what a follow-up command resumes."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass
class Call:
    """One command in flight: how to send keepalives and whether the host cancelled it."""

    keepalive: Callable[[int], None]
    cancel: threading.Event


@dataclass
class Continuation:
    """Answers left for a follow-up command (getNextAssertion, enumerate RPs/credentials next)."""

    kind: str
    items: Iterator[dict[int, Any]]
