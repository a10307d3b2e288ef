"""A key source of emulated keys: ``station demo`` and tests insert and remove virtual keys by hand.

It is a ``KeyWatcher`` like the USB and NFC sources: ``insert`` powers the virtual key up (a fresh
insertion: the reset window opens) and reports a ``KeyCandidate`` whose ``open()`` returns a python-fido2
``CtapHidDevice`` talking CTAPHID to the key in-process; ``remove`` pulls it out (calls in flight fail as
on a real unplugged device) and reports the removal. Never used on the production path.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from fido2.ctap import CtapDevice

from station.hid.candidate import KeyCandidate
from station.hid.key_devices import open_usb_key
from station_emulator.key import VirtualKey
from station_emulator.key.ctaphid import open_virtual_device

log = logging.getLogger(__name__)


class VirtualKeySource:
    """Virtual keys in numbered slots ("Virtual 1", "Virtual 2", …)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._present: dict[str, tuple[KeyCandidate, VirtualKey]] = {}
        self._on_attached: Callable[[KeyCandidate], None] | None = None
        self._on_removed: Callable[[str], None] | None = None
        self._slots = 0

    def start(self, on_attached: Callable[[KeyCandidate], None], on_removed: Callable[[str], None]) -> None:
        with self._lock:
            self._on_attached, self._on_removed = on_attached, on_removed
            present = [c for c, _ in self._present.values()]
        for candidate in present:
            on_attached(candidate)

    def stop(self) -> None:
        with self._lock:
            self._on_attached = self._on_removed = None

    def status(self) -> str:
        with self._lock:
            return f"virtual: {len(self._present)} key(s) inserted"

    def insert(self, key: VirtualKey, slot: str | None = None) -> KeyCandidate:
        """Plug ``key`` in (in ``slot``, or the next free numbered slot) and report it."""
        key.power_cycle()
        with self._lock:
            if slot is None:
                self._slots += 1
                slot = f"Virtual {self._slots}"
            if slot in self._present:
                raise ValueError(f"slot {slot!r} already holds a key")

            def open_key() -> CtapDevice:
                return open_virtual_device(key, path=f"virtual:{slot}", device=open_usb_key)

            candidate = KeyCandidate(fingerprint=f"virtual-{key.serial}", transport="virtual", slot=slot,
                                     name=key.profile_spec.product_name, open=open_key)
            self._present[slot] = (candidate, key)
            callback = self._on_attached
        log.info("virtual key %s inserted in %s", key.serial, slot)
        if callback is not None:
            callback(candidate)
        return candidate

    def remove(self, slot: str) -> VirtualKey:
        """Pull the key out of ``slot``: its calls in flight fail, and the removal is reported."""
        with self._lock:
            candidate, key = self._present.pop(slot)
            callback = self._on_removed
        key.removed.set()
        log.info("virtual key %s removed from %s", key.serial, slot)
        if callback is not None:
            callback(candidate.fingerprint)
        return key

    def key_in(self, slot: str) -> VirtualKey | None:
        with self._lock:
            entry = self._present.get(slot)
        return entry[1] if entry else None
