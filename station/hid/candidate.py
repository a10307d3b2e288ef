"""KeyCandidate — one security key a watcher found — and the KeyWatcher protocol every key source implements.

USB (hidraw), NFC (PC/SC) and virtual key sources all report keys the same way: a candidate with a
stable fingerprint, the transport, a human-readable slot, and ``open()`` returning a python-fido2
``CtapDevice`` the engine talks to directly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from fido2.ctap import CtapDevice

from station.text import MODEL_MAX, cleaned

Transport = Literal["usb", "nfc", "virtual"]
SLOT_MAX = 256  # the journal's slot column


@dataclass(frozen=True)
class KeyCandidate:
    """A key present in a slot. ``fingerprint`` stays the same while the key stays in that slot.

    ``slot`` is what a technician reads on screen ("USB 1-1.2", "NFC ACS ACR122U 00 00").
    ``open()`` may raise; the caller owns (and closes) the device it returns.
    """

    fingerprint: str
    transport: Transport
    slot: str
    name: str
    open: Callable[[], CtapDevice] = field(repr=False, compare=False)

    def __post_init__(self) -> None:
        # The name and slot come from the device (a USB product string, a PC/SC reader name): any device can
        # put control or bidi characters in them, or make them long. They are shown, logged and stored.
        object.__setattr__(self, "name", device_text(self.name, MODEL_MAX))
        object.__setattr__(self, "slot", device_text(self.slot, SLOT_MAX))


def device_text(value: str, limit: int) -> str:
    """A string a device reported, without control, bidi or invisible characters and at most ``limit`` long."""
    return cleaned(value)[0].strip()[:limit]


class KeyWatcher(Protocol):
    """A source of key attach/remove notifications.

    ``start`` reports keys already present, then changes, on the watcher's own thread(s).
    ``on_removed`` receives the fingerprint an earlier ``on_attached`` carried.
    ``status`` is one line for the operator ("NFC: 2 readers", "NFC: pcscd not running — retrying in 4 s").
    """

    def start(
        self,
        on_attached: Callable[[KeyCandidate], None],
        on_removed: Callable[[str], None],
    ) -> None: ...

    def stop(self) -> None: ...

    def status(self) -> str: ...
