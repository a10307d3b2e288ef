"""The daemon's periodic hand-out check: every ``[delegation] check_every_minutes`` it settles the keys handed
out and still waiting, as ``station handout verify`` does — ``active`` once a passkey of the key's model
appeared, ``expired`` when the TAP ran out or was used without one, the TAP deleted once of no further use.

It runs on a thread of its own, first once the daemon has started, and asks Entra ID nothing while no
hand-out is waiting. A pass that fails (Entra ID or the store unreachable) is logged and tried again at the
next interval; the daemon goes on enrolling. The passes never see a TAP: only its Graph id and expiry.
"""

from __future__ import annotations

import logging
import threading
from typing import Final

from station.entra import EntraClient
from station.entra.tap import TemporaryAccessPasses
from station.errors import StationError
from station.lifecycle.delegation_settings import DelegationSection
from station.lifecycle.handout import Tracked, track
from station.store import Store
from station.store.handouts import HandoutState

log = logging.getLogger(__name__)

STOP_WAIT_SECONDS: Final = 10.0


class HandoutTracking:
    """Start with :meth:`start` (the daemon's store and Entra client), stop with :meth:`stop` (safe when never
    started)."""

    def __init__(self, settings: DelegationSection) -> None:
        self.interval = settings.check_every_minutes * 60.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._store: Store | None = None
        self._client: EntraClient | None = None

    def start(self, store: Store, client: EntraClient | None) -> None:
        if self.interval <= 0 or client is None or self._thread is not None:
            return
        self._store, self._client = store, client
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="handout-tracking", daemon=True)
        self._thread.start()
        log.info("keys handed out are checked every %g minute(s)", self.interval / 60)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(STOP_WAIT_SECONDS)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.check()
            except StationError as e:
                log.warning("checking the keys handed out failed: %s → %s (tried again in %g minute(s))",
                            e.message, e.remedy, self.interval / 60)
            except Exception:
                log.exception("checking the keys handed out failed; tried again at the next interval")
            self._stop.wait(self.interval)

    def check(self) -> list[Tracked]:
        """One pass: settle every waiting hand-out; what became of each (nothing asked while none waits)."""
        assert self._store is not None and self._client is not None
        store, client = self._store, self._client
        tracked: list[Tracked] = []
        if store.handouts.find(HandoutState.HANDED_OUT):
            tracked = track(store, TemporaryAccessPasses(client.http), client.passkeys)
        for t in tracked:
            if t.outcome == "active":
                log.info("the key handed out to %s is registered: %s", t.handout.upn, t.detail)
            elif t.outcome == "expired":
                log.warning("the key handed out to %s was not registered: %s → hand it out again "
                            "('station handout --upn %s')", t.handout.upn, t.detail, t.handout.upn)
        return tracked
