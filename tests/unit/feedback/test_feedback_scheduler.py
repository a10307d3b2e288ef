"""The thread that times software-driven LED patterns: order, cancellation, a failing callback, stop."""

from __future__ import annotations

import threading
import time

from station.feedback.scheduler import ThreadScheduler


def test_callbacks_run_in_time_order_and_a_cancelled_one_never_runs() -> None:
    scheduler = ThreadScheduler()
    ran: list[str] = []
    done = threading.Event()
    try:
        scheduler.call_later(0.06, lambda: (ran.append("late"), done.set()))
        dropped = scheduler.call_later(0.03, lambda: ran.append("cancelled"))
        scheduler.call_later(0.01, lambda: ran.append("early"))
        dropped.cancel()
        assert done.wait(2)
    finally:
        scheduler.stop()
    assert ran == ["early", "late"]


def fail() -> None:
    raise RuntimeError("an LED callback failed")


def test_a_failing_callback_does_not_stop_the_ones_after_it() -> None:
    scheduler = ThreadScheduler()
    done = threading.Event()
    try:
        scheduler.call_later(0, fail)
        scheduler.call_later(0.01, done.set)
        assert done.wait(2)
    finally:
        scheduler.stop()


def test_stop_drops_what_is_pending_and_ends_the_thread() -> None:
    scheduler = ThreadScheduler(name="feedback-stop-test")
    ran: list[int] = []
    scheduler.call_later(0.05, lambda: ran.append(1))
    scheduler.stop()
    scheduler.call_later(0, lambda: ran.append(2))
    time.sleep(0.1)
    assert ran == []
    assert not any(t.name == "feedback-stop-test" and t.is_alive() for t in threading.enumerate())
