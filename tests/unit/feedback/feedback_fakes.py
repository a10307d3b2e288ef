"""Fakes for the feedback tests: LED class directories as plain files, and a clock turned by hand.

``make_led_dir`` lays out what the kernel shows under /sys/class/leds/<name>. ``KernelLed`` is a real
:class:`Led` whose writes also do what the kernel does on them: the bracket moves to the chosen trigger;
``delay_on``/``delay_off`` appear with ``timer`` (root-owned, refusing the station's writes, when
``delays_writable`` is false) and go with any other trigger; ``none`` switches the LED off. Its writes are
recorded with the hand-turned clock's time. ``ManualScheduler`` runs callbacks only when the test
advances time, so no test sleeps.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
from collections.abc import Callable
from pathlib import Path

from station.feedback.leds import Led, parse_triggers

Write = tuple[float, str, str, str]

READ_ONLY_SYSFS_ATTRIBUTE = Path("/sys/devices/system/cpu/possible")


def make_led_dir(root: Path, name: str, triggers: str = "none [mmc0] timer heartbeat", *,
                 brightness: int = 0, max_brightness: int = 255) -> Path:
    path = root / name
    path.mkdir(parents=True)
    (path / "trigger").write_text(triggers + "\n")
    (path / "brightness").write_text(f"{brightness}\n")
    (path / "max_brightness").write_text(f"{max_brightness}\n")
    if "[timer]" in triggers:
        (path / "delay_on").write_text("500\n")
        (path / "delay_off").write_text("500\n")
    return path


def make_unwritable(path: Path) -> None:
    """Make writes to ``path`` fail with EACCES, as an LED file the station user may not write does.

    Root writes any plain file whatever its mode, so as root the file becomes a link to a read-only
    sysfs attribute, which refuses writes even to root.
    """
    path.unlink()
    if os.geteuid() == 0:
        path.symlink_to(READ_ONLY_SYSFS_ATTRIBUTE)
    else:
        path.write_text("0\n")
        path.chmod(0o444)


class ManualScheduler:
    def __init__(self) -> None:
        self.now = 0.0
        self._heap: list[tuple[float, int, _Entry]] = []
        self._seq = itertools.count()

    def call_later(self, delay: float, fn: Callable[[], None]) -> _Entry:
        entry = _Entry(fn)
        heapq.heappush(self._heap, (self.now + delay, next(self._seq), entry))
        return entry

    def advance(self, seconds: float) -> None:
        until = self.now + seconds
        while self._heap and self._heap[0][0] <= until + 1e-9:
            when, _, entry = heapq.heappop(self._heap)
            self.now = when
            if not entry.cancelled:
                entry.fn()
        self.now = until

    def pending(self) -> int:
        return sum(1 for _, _, e in self._heap if not e.cancelled)

    def stop(self) -> None:
        self._heap.clear()


class _Entry:
    def __init__(self, fn: Callable[[], None]) -> None:
        self.fn = fn
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class KernelLed(Led):
    def __init__(self, path: Path, clock: ManualScheduler, writes: list[Write], *,
                 delays_writable: bool = True) -> None:
        super().__init__(path)
        self.delays_writable = delays_writable
        listing = path / "trigger"
        self.offered = parse_triggers(listing.read_text())[0] if listing.exists() else []
        self.clock = clock
        self.writes = writes

    def write(self, attr: str, value: str | int) -> None:
        super().write(attr, value)
        self.writes.append((round(self.clock.now, 3), self.name, attr, str(value)))
        if attr == "trigger":
            self._select(str(value))

    def _select(self, trigger: str) -> None:
        listing = " ".join(f"[{t}]" if t == trigger else t for t in self.offered)
        (self.path / "trigger").write_text(listing + "\n")
        for delay in ("delay_on", "delay_off"):
            if trigger == "timer":
                (self.path / delay).write_text("500\n")
                if not self.delays_writable:
                    make_unwritable(self.path / delay)
            else:
                (self.path / delay).unlink(missing_ok=True)
        if trigger == "none":
            with contextlib.suppress(OSError):
                (self.path / "brightness").write_text("0\n")


def kernel_led_opener(clock: ManualScheduler, writes: list[Write]) -> Callable[[str], Led]:
    """What FeedbackController calls to open an LED: here a KernelLed over the plain-file directory."""

    def open_led(spec: str) -> Led:
        led = KernelLed(Path(spec), clock, writes)
        led.load()
        return led

    return open_led
