"""A USB key that ignores CTAPHID CANCEL must not hold its slot for ever.

python-fido2 answers a cancelled call by sending CANCEL before every read, and reads on for as long as the
key sends keepalives. A key that ignores the cancel (the Trussed firmware of Nitrokey 3 and Solo 2 did,
trussed-dev/fido-authenticator#13) keeps a session — and its thread — waiting until someone pulls it out.
``CancelGuard`` wraps the hidraw connection: once a cancel has gone out, a key still answering
``CANCEL_GRACE_SECONDS`` later fails the call with KEY_ERROR, as the NFC device does for its own cancel.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

from fido2.hid import CTAPHID
from fido2.hid.base import CtapHidConnection

from station.errors import KeyOperationError

CANCEL_GRACE_SECONDS: Final = 2.0
_TYPE_INIT: Final = 0x80
_CANCEL: Final = _TYPE_INIT | CTAPHID.CANCEL


class CancelGuard(CtapHidConnection):
    """A ``CtapHidConnection`` that gives up on a key still busy ``grace`` seconds after it was cancelled."""

    def __init__(self, inner: CtapHidConnection, *, grace: float = CANCEL_GRACE_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.inner = inner
        self.grace = grace
        self.clock = clock
        self.cancelled_at: float | None = None

    def write_packet(self, data: bytes) -> None:
        command = data[4] if len(data) > 4 else 0
        if command == _CANCEL:
            if self.cancelled_at is None:
                self.cancelled_at = self.clock()
        elif command & _TYPE_INIT:
            self.cancelled_at = None  # a new request
        self.inner.write_packet(data)

    def read_packet(self) -> bytes:
        if self.cancelled_at is not None and self.clock() - self.cancelled_at > self.grace:
            raise KeyOperationError(
                f"the key stopped answering: it was still busy {self.grace:g} s after it was cancelled",
                remedy="Remove the key and insert it again; if it happens again, set it aside.")
        return self.inner.read_packet()

    def close(self) -> None:
        self.inner.close()
