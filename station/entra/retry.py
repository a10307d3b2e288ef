"""When and how long to wait before trying a Graph call again: Retry-After, else capped backoff with jitter."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

RETRY_STATUSES = frozenset({429, 503, 504})


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now)


@dataclass(frozen=True)
class RetryPolicy:
    """``max_retries`` extra attempts; backoff ``base * 2**n`` capped at ``cap``, with jitter in [half, full].

    A Retry-After longer than ``max_retry_after`` is not waited for: the caller gets a throttling error.
    """

    max_retries: int = 5
    base: float = 0.5
    cap: float = 30.0
    max_retry_after: float = 120.0
    random: Callable[[], float] = field(default=random.random, compare=False, repr=False)

    def backoff(self, retry_number: int) -> float:
        """The wait before retry ``retry_number`` (0 for the first) when the server gave no Retry-After."""
        ceiling = min(self.cap, self.base * (2**retry_number))
        return ceiling / 2 + self.random() * ceiling / 2

    def delay(self, retry_number: int, retry_after: float | None) -> float | None:
        """The wait before the next attempt, or None when Station should give up now."""
        if retry_number >= self.max_retries:
            return None
        if retry_after is not None:
            return retry_after if retry_after <= self.max_retry_after else None
        return self.backoff(retry_number)
