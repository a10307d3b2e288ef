"""When Station waits before asking Graph again, and when it gives up."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from station.entra.retry import RetryPolicy, parse_retry_after

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("header", "expected"),
    [("7", 7.0), (" 0 ", 0.0), ("1.5", 1.5), ("-3", 0.0), (None, None), ("", None), ("soon", None)],
)
def test_retry_after_seconds(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, NOW) == expected


def test_retry_after_http_date_is_measured_from_the_clock() -> None:
    later = format_datetime(datetime(2026, 3, 1, 12, 0, 42, tzinfo=UTC), usegmt=True)
    assert parse_retry_after(later, NOW) == 42.0
    earlier = format_datetime(datetime(2026, 3, 1, 11, 0, 0, tzinfo=UTC), usegmt=True)
    assert parse_retry_after(earlier, NOW) == 0.0


def test_retry_after_is_obeyed_as_given() -> None:
    policy = RetryPolicy(max_retries=3, max_retry_after=60)
    assert policy.delay(0, 17.0) == 17.0
    assert policy.delay(2, 0.0) == 0.0


def test_a_retry_after_longer_than_allowed_is_not_waited_for() -> None:
    assert RetryPolicy(max_retry_after=60).delay(0, 61.0) is None


def test_gives_up_after_max_retries() -> None:
    policy = RetryPolicy(max_retries=2)
    assert policy.delay(1, None) is not None
    assert policy.delay(2, None) is None
    assert policy.delay(2, 1.0) is None


def test_backoff_doubles_until_the_cap() -> None:
    policy = RetryPolicy(base=0.5, cap=4.0, max_retries=10, random=lambda: 1.0)
    assert [policy.delay(n, None) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


@given(st.integers(min_value=0, max_value=40), st.floats(min_value=0.0, max_value=0.999999))
def test_jitter_stays_between_half_and_full_step(retry_number: int, r: float) -> None:
    policy = RetryPolicy(base=0.5, cap=30.0, max_retries=100, random=lambda: r)
    step = min(30.0, 0.5 * 2**retry_number)
    delay = policy.delay(retry_number, None)
    assert delay is not None
    assert step / 2 <= delay <= step
