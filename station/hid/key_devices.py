"""What a key answers, read at the edge: an answer python-fido2 cannot read becomes a KeyOperationError here.

A broken or hostile key (wrong channel, truncated or ill-typed CBOR, impossible lengths) makes python-fido2
raise whatever its parser meets — ValueError, KeyError, TypeError, IndexError, struct.error, its own
ConnectionFailure. ``key_answers()`` turns each into ``MalformedAnswer`` (KEY_ERROR, retryable) where the
station calls into python-fido2: the devices here (USB; NFC in nfc.py) and the CTAP objects of
``station.enroll.key_answers``. Anything else that escapes an enrolment is then the station's own error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from threading import Event
from typing import Any

from fido2.ctap import STATUS, CtapError
from fido2.hid import CtapHidDevice
from fido2.hid.base import CtapHidConnection, HidDescriptor

from station.errors import KeyOperationError, Reason, StationError
from station.hid.cancel_guard import CancelGuard

MAX_DETAIL = 300


class MalformedAnswer(KeyOperationError):
    """The key answered something that is not a well-formed CTAP answer."""

    retryable = True

    def during(self, doing: str) -> MalformedAnswer:
        """The same failure, its message prefixed with what the station was doing."""
        return MalformedAnswer(f"{doing}: {self.message}", remedy=self.remedy)


@contextmanager
def key_answers() -> Iterator[None]:
    """Calls into python-fido2 in this block: what its parsing raises becomes ``MalformedAnswer``; CTAP errors
    (the key's own status codes) and the station's errors pass unchanged."""
    try:
        yield
    except (CtapError, StationError):
        raise
    except Exception as e:
        detail = f"{type(e).__name__}: {e}"[:MAX_DETAIL]
        raise MalformedAnswer(f"the key's answer was malformed ({detail})", reason=Reason.KEY_ERROR) from e


class UsbKeyDevice(CtapHidDevice):
    """python-fido2's CTAPHID device whose every call reads the key's answer through ``key_answers()``."""

    def call(self, cmd: int, data: bytes = b"", event: Event | None = None,
             on_keepalive: Callable[[STATUS], None] | None = None) -> bytes:
        with key_answers():
            return super().call(cmd, data, event, on_keepalive)


def open_usb_key(descriptor: HidDescriptor, connection: CtapHidConnection, **guard: Any) -> UsbKeyDevice:
    """The station's device for a USB key: CTAPHID over ``connection``, a key still busy after a cancel given
    up on (CancelGuard), the channel set-up's answer read like every other."""
    with key_answers():
        return UsbKeyDevice(descriptor, CancelGuard(connection, **guard))
