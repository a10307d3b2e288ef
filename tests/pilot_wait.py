"""Waiting in Pilot tests for what arrives from other threads (posted messages, worker results, timers).

A fixed ``await pilot.pause()`` is enough on a quiet machine and too short on a loaded one: ``wait_for``
pauses until the condition holds and fails the test, showing the screen, when it does not within a
generous timeout. ``drained`` waits until what other threads have posted so far has been handled.
``Notes`` keeps every notification, which a toast's timeout would otherwise take away before a slow
run looks.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from textual.app import App
from textual.css.query import NoMatches
from textual.message import Message
from textual.message_pump import MessagePump
from textual.notifications import Notify
from textual.pilot import Pilot

TIMEOUT = 10.0


def screen_text(app: App[Any]) -> str:
    """The characters the terminal shows."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def _holds(condition: Callable[[], object]) -> bool:
    """The condition's truth; a widget, card or screen not there yet counts as not yet."""
    try:
        return bool(condition())
    except (LookupError, NoMatches):
        return False


async def wait_for(pilot: Pilot[Any], condition: Callable[[], object], what: str, timeout: float = TIMEOUT) -> None:
    """Pause until ``condition()`` is true; fail the test after ``timeout`` seconds of it being false."""
    deadline = time.monotonic() + timeout
    await pilot.pause()
    while not _holds(condition):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what}\n{screen_text(pilot.app)}")
        await pilot.pause(0.05)


async def drained(pilot: Pilot[Any], pump: MessagePump | None = None, timeout: float = TIMEOUT) -> None:
    """Wait until ``pump`` (the app by default) has handled every message posted to it before this call,
    from any thread, and the screen is up to date. Finished workers' messages count: wait for them first."""
    target = pump or pilot.app
    await pilot.pause()  # messages posted from other threads reach the queue through the event loop
    handled = asyncio.Event()
    target.call_later(handled.set)
    try:
        await asyncio.wait_for(handled.wait(), timeout)
    except TimeoutError:
        raise AssertionError(f"{target!r} did not handle its messages within {timeout:g} s") from None
    await pilot.pause()


class Notes(list[str]):
    """Every notification the app raised, kept after its toast has timed out (a message hook for run_test)."""

    def __call__(self, message: Message) -> None:
        if isinstance(message, Notify):
            self.append(message.notification.message)

    def seen(self, text: str, *, times: int) -> Callable[[], bool]:
        """A condition: ``text`` was noted exactly ``times`` times."""
        return lambda: self.count(text) == times
