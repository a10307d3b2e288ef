"""One LED of the Linux LED class (``/sys/class/leds/<name>``): its trigger and brightness files.

The kernel lists the triggers an LED offers in ``trigger`` with the active one in brackets
("none [mmc0] timer heartbeat"); writing a name selects it. Choosing ``timer`` makes ``delay_on`` and
``delay_off`` (milliseconds) appear. ``brightness`` runs from 0 to ``max_brightness``; writing ``none`` as
the trigger switches the LED off. An :class:`Led` remembers the trigger and brightness it found so
:meth:`Led.restore` can put them back. Every failure to find or write an LED is a :class:`FeedbackError`
naming the file and what to do.
"""

from __future__ import annotations

import errno
import logging
import os
from pathlib import Path

from station.errors import FeedbackError

log = logging.getLogger(__name__)

LED_CLASS = Path("/sys/class/leds")
# The Raspberry Pi's activity and power LEDs were led0 and led1 before kernel 6.1 named them ACT and PWR.
PI_ALIASES = {"ACT": "led0", "PWR": "led1", "led0": "ACT", "led1": "PWR"}
PERMISSION_REMEDY = (
    "Let the station user write the LED's trigger and brightness files: install the udev rule from the "
    "README's Raspberry Pi section (or a tmpfiles.d entry), or remove the LED from [feedback] leds."
)

SANDBOX_REMEDY = (
    "The service's sandbox keeps /sys read-only: add the LED's directory to ReadWritePaths= in a drop-in "
    "(see the README's Raspberry Pi section), or remove the LED from [feedback] leds."
)


def resolve_led(spec: str, root: Path = LED_CLASS) -> Path:
    """The LED class directory ``spec`` names: a path, or a name under ``root`` (ACT/led0 and PWR/led1 alike)."""
    if "/" in spec:
        return Path(spec)
    path = root / spec
    alias = PI_ALIASES.get(spec)
    if not path.exists() and alias is not None and (root / alias).exists():
        return root / alias
    return path


def parse_triggers(text: str) -> tuple[list[str], str]:
    """The triggers listed in a ``trigger`` file and the active (bracketed) one."""
    names, active = [], "none"
    for word in text.split():
        if word.startswith("[") and word.endswith("]"):
            word = word[1:-1]
            active = word
        names.append(word)
    return names, active


class Led:
    """An LED class directory. Use :meth:`open`, which checks the LED is there and writable."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = path.name
        self.triggers: list[str] = []
        self.original_trigger = "none"
        self.original_brightness = 0
        self.max_brightness = 1
        self.original_delays: tuple[str, str] | None = None

    @classmethod
    def open(cls, spec: str, root: Path = LED_CLASS) -> Led:
        """Find the LED ``spec`` names and remember its state; FeedbackError when it is missing or read-only."""
        led = cls(resolve_led(spec, root))
        led.load()
        return led

    def load(self) -> None:
        """Read what the LED offers and its current state (kept for :meth:`restore`)."""
        if not (self.path / "trigger").exists() or not (self.path / "brightness").exists():
            raise FeedbackError(
                f"LED {self.path} does not exist",
                remedy=f"List the LEDs this machine has with 'ls {self.path.parent}' and fix [feedback] leds; "
                       "a GPIO LED needs 'dtoverlay=gpio-led,gpio=17,label=station' in the boot config.")
        for attr in ("trigger", "brightness"):
            if not os.access(self.path / attr, os.W_OK):
                raise FeedbackError(f"LED {self.name}: {self.path / attr} is not writable for this user",
                                    remedy=PERMISSION_REMEDY)
        self.triggers, self.original_trigger = parse_triggers(self.read("trigger"))
        self.original_brightness = self._read_int("brightness", 0)
        self.max_brightness = max(1, self._read_int("max_brightness", 1))
        if self.original_trigger == "timer" and self.has("delay_on") and self.has("delay_off"):
            self.original_delays = (self.read("delay_on"), self.read("delay_off"))

    def supports(self, trigger: str) -> bool:
        return trigger in self.triggers

    # -- the files ------------------------------------------------------------------------------
    def read(self, attr: str) -> str:
        try:
            return (self.path / attr).read_text(encoding="ascii", errors="replace").strip()
        except OSError as e:
            raise self._error(attr, e) from None

    def write(self, attr: str, value: str | int) -> None:
        """Write one attribute, as ``echo value > attr`` would (a single write of the whole value)."""
        try:
            with open(self.path / attr, "w", encoding="ascii") as f:
                f.write(f"{value}\n")
        except OSError as e:
            raise self._error(attr, e) from None

    def has(self, attr: str) -> bool:
        return (self.path / attr).exists()

    def _read_int(self, attr: str, default: int) -> int:
        try:
            return int(self.read(attr))
        except (FeedbackError, ValueError):
            return default

    def _error(self, attr: str, e: OSError) -> FeedbackError:
        target = self.path / attr
        if e.errno == errno.EROFS:
            return FeedbackError(f"LED {self.name}: cannot write {target}: {e.strerror}", remedy=SANDBOX_REMEDY)
        if e.errno in (errno.EACCES, errno.EPERM):
            return FeedbackError(f"LED {self.name}: cannot write {target}: {e.strerror}", remedy=PERMISSION_REMEDY)
        if e.errno in (errno.ENOENT, errno.ENODEV):
            return FeedbackError(f"LED {self.name}: {target} is gone ({e.strerror})",
                                 remedy="Check that the LED still exists, and fix [feedback] leds.")
        return FeedbackError(f"LED {self.name}: {target}: {e.strerror or e}",
                             remedy="Check the LED's device-tree overlay and driver, "
                                    "or remove it from [feedback] leds.")

    # -- what patterns do -----------------------------------------------------------------------
    def set_trigger(self, trigger: str) -> None:
        self.write("trigger", trigger)

    def set_on(self, on: bool) -> None:
        self.write("brightness", self.max_brightness if on else 0)

    def start_timer(self, on_ms: int, off_ms: int) -> bool:
        """Blink with the kernel's ``timer`` trigger; False when its delay files did not appear or refuse
        the write (the kernel creates them root-owned each time ``timer`` is chosen, so a permission a
        udev rule gave to ``trigger`` and ``brightness`` may not reach them in time)."""
        self.set_trigger("timer")
        if not (self.has("delay_on") and self.has("delay_off")):
            return False
        try:
            self.write("delay_on", on_ms)
            self.write("delay_off", off_ms)
        except FeedbackError as e:
            log.debug("LED %s blinks without the kernel timer: %s", self.name, e.message)
            return False
        return True

    def restore(self) -> None:
        """Put back the trigger (and, with no trigger, the brightness) the LED had when it was opened."""
        self.set_trigger(self.original_trigger)
        if self.original_delays is not None and self.has("delay_on"):
            self.write("delay_on", self.original_delays[0])
            self.write("delay_off", self.original_delays[1])
        if self.original_trigger == "none":
            self.write("brightness", self.original_brightness)
        log.debug("LED %s restored to trigger %s", self.name, self.original_trigger)
