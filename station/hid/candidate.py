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

Transport = Literal["usb", "nfc", "virtual"]


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
