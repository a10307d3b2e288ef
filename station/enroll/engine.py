"""The Engine: one enrolment session per inserted key, intake control, prefetching and reconciliation.

Key sources call ``key_attached`` / ``key_removed`` (from their own threads; neither blocks). The daemon
calls ``start`` (reconciles every unfinished journal row before taking keys), ``loop_tick`` from its
watchdog loop (reaps sessions, renews leases, retries unresolved rows), and ``stop``. The dashboard and
control socket use ``snapshot``, ``pause_intake`` / ``resume_intake``, ``cancel_slot``, ``retry_person``
and ``skip_person``. A gate bounds concurrent Graph calls across all sessions (graph_gate.py). Creation
options are prefetched from the engine's own thread for the next ``prefetch`` people plus one per key in at
the busiest moment of the last few minutes (each slot claims again as soon as its key is swapped, and a batch
of keys is often replaced after a pause): at start, as soon as a session takes prefetched options, and
every second while keys are in (every ten while none is); prefetches go through the gate behind every call a
session waits for and hold at most half its permits, so the one Graph call after a touch does not queue
behind them. ``on_success``, when given, is called with a key's still-open device once its enrolment is done
(the station's feedback winks it). With ``handouts``, a key inserted while a hand-out waits for its key at
this station is prepared for it instead of enrolled (prepare.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from fido2.ctap import CtapDevice

from station.config import EnrolmentSection
from station.enroll.context import SessionContext
from station.enroll.display_name import check_template
from station.enroll.graph_gate import GraphGate
from station.enroll.ports import (
    AuditPort,
    Clock,
    HandoutBook,
    JournalPort,
    PasskeysPort,
    QueuePort,
    Sealer,
    Step,
    SystemClock,
)
from station.enroll.prefetch import Prefetcher
from station.enroll.reconcile import Reconciler, ReconcileReport
from station.enroll.transitions import KeyHolds, StopCause
from station.errors import ConfigError
from station.events import EventBus, IntakeChanged, KeyAttached, KeyRemoved
from station.hid.candidate import KeyCandidate
from station.keys.catalogue import KeyCatalogue
from station.wire import EngineSnapshot, HeldKey, SessionSnapshot

if TYPE_CHECKING:
    from station.enroll.session import Session

log = logging.getLogger(__name__)

PREFETCH_INTERVAL = 1.0
PREFETCH_IDLE_INTERVAL = 10.0
# How long the most keys in at once still sizes the prefetch: the next wave of insertions fills those slots.
PREFETCH_WAVE_MEMORY = 300.0
# How often the running station looks for unresolved rows that are due (each row backs off on its own).
RECONCILE_INTERVAL = 15.0
OPTIONS_MARGIN_SECONDS = 30.0
# Rows a live session may still be creating are never reconciled while the station runs: only rows whose
# credential exists, which a session reaches long after its row is known to the engine.
LATE_STATES = (Step.CREDENTIAL_MADE, Step.REGISTERING, Step.REGISTERED)
TERMINAL_STEPS = frozenset(s.value for s in Step if s.terminal)


class Engine:
    def __init__(
        self,
        *,
        policy: EnrolmentSection,
        station_id: str,
        queue: QueuePort,
        journal: JournalPort,
        audit: AuditPort,
        passkeys: PasskeysPort,
        bus: EventBus,
        escrow: Sealer | None,
        station_name: str = "",
        clock: Clock | None = None,
        heartbeat: Callable[[EngineSnapshot], None] | None = None,
        on_success: Callable[[CtapDevice], None] | None = None,
        models: KeyCatalogue | None = None,
        handouts: HandoutBook | None = None,
    ) -> None:
        if escrow is None and not policy.show_pin:
            raise ConfigError("no way to hand out PINs", problems=[
                "enrolment.escrow_public_key: set it (station pins keygen --out DIR), or enable enrolment.show_pin"])
        try:
            check_template(policy.display_name_template)
        except ValueError as e:
            raise ConfigError("bad display name template",
                              problems=[f"enrolment.display_name_template: {e}"]) from None
        models = models or KeyCatalogue.builtin()
        if policy.attestation == "verify" and not models.loaded:
            raise ConfigError("attestation cannot be verified without FIDO metadata", problems=[
                'enrolment.attestation = "verify": load a BLOB first (station mds load FILE), or set it to "off"'])
        self.policy = policy
        self.station_id = station_id
        self.bus = bus
        self.clock = clock or SystemClock()
        self.heartbeat = heartbeat
        gate = GraphGate(policy.max_concurrent_graph_calls)
        margin = timedelta(seconds=policy.touch_timeout_seconds + OPTIONS_MARGIN_SECONDS)
        self.prefetch = Prefetcher(queue, passkeys, gate, size=policy.prefetch, margin=margin, clock=self.clock)
        self.ctx = SessionContext(policy=policy, station_id=station_id, station_name=station_name or station_id,
                                  queue=queue, journal=journal, audit=audit, passkeys=passkeys, bus=bus,
                                  escrow=escrow, prefetch=self.prefetch, graph_gate=gate, clock=self.clock,
                                  on_success=on_success, models=models, handouts=handouts)
        self.reconciler = Reconciler(station_id, queue, journal, audit, passkeys, bus, self.clock, gate,
                                     policy.lease_seconds)
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}
        self._held: dict[str, KeyCandidate] = {}
        self._keys_in: set[str] = set()
        self._wave = 0  # the most keys in at once lately, and when that many last were
        self._wave_at = 0.0
        self._last: dict[str, SessionSnapshot] = {}
        self._paused = False
        self._started = False
        self._stopping = threading.Event()
        self._prefetch_thread: threading.Thread | None = None
        self._last_reconcile = 0.0
        # Rows of this run's sessions that ended without a terminal journal state: settled whatever their step.
        self._ended: set[int] = set()

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> ReconcileReport:
        """Reconcile unfinished enrolments (unresolved ones too, whenever their next check was due: a start
        often follows a fix), then take keys (including any that arrived meanwhile)."""
        report = self.reconciler.run(due_only=False)
        self._last_reconcile = time.monotonic()
        with self._lock:
            self._started = True
        if self.policy.prefetch > 0:
            self.prefetch.demand.set()
            self._prefetch_thread = threading.Thread(target=self._prefetch_loop, name="prefetch", daemon=True)
            self._prefetch_thread.start()
        self._start_held()
        return report

    def stop(self, timeout: float = 5.0) -> None:
        """Stop taking keys, cancel running sessions and wait for them to reach a terminal state."""
        self._stopping.set()
        self.prefetch.demand.set()
        with self._lock:
            self._started = False
            sessions = list(self._sessions.values())
        for s in sessions:
            s.stop(StopCause.SHUTDOWN)
        deadline = time.monotonic() + timeout
        for s in sessions:
            s.thread.join(max(0.0, deadline - time.monotonic()))
        if self._prefetch_thread is not None:
            self._prefetch_thread.join(timeout)

    # -- key sources ----------------------------------------------------------------------------
    def key_attached(self, candidate: KeyCandidate) -> None:
        self.bus.publish(KeyAttached(slot=candidate.slot, transport=candidate.transport,
                                     fingerprint=candidate.fingerprint))
        with self._lock:
            self._keys_in.add(candidate.fingerprint)
            self._next_wave()
            running = self._sessions.get(candidate.fingerprint)
            if running is not None and not running.finished.is_set() and not running.interrupts.removed.is_set():
                log.info("key in %s already has a session", candidate.slot)
                return
            if self._paused or not self._started:
                self._held[candidate.fingerprint] = candidate
                return
            self._begin(candidate)

    def key_removed(self, fingerprint: str) -> None:
        with self._lock:
            self._keys_in.discard(fingerprint)
            held = self._held.pop(fingerprint, None)
            session = self._sessions.get(fingerprint)
        slot = held.slot if held else session.slot if session else fingerprint
        if session is not None and not session.finished.is_set():
            session.key_removed()
        self.bus.publish(KeyRemoved(slot=slot))

    def _begin(self, candidate: KeyCandidate) -> None:
        """Start a session; one still ending for an earlier insertion of the same key finishes first."""
        previous = self._sessions.get(candidate.fingerprint)
        if previous is not None and previous.finished.is_set():
            self._last[previous.slot] = previous.snapshot()
            previous = None
        # A session's modules (the CTAP ceremony, PIN protocol, attestation checks: python-fido2's CTAP2 client and
        # cryptography) load with the first key, not in an idle daemon.
        from station.enroll.session import Session

        session = Session(self.ctx, candidate, after=previous)
        self._sessions[candidate.fingerprint] = session
        session.start()

    def _start_held(self) -> None:
        with self._lock:
            if self._paused or not self._started:
                return
            held, self._held = list(self._held.values()), {}
            for candidate in held:
                self._begin(candidate)

    # -- control --------------------------------------------------------------------------------
    def use_models(self, models: KeyCatalogue) -> None:
        """Key-model facts (names, statuses, attestation roots) for keys inserted from now on."""
        self.ctx.models = models

    def pause_intake(self) -> None:
        with self._lock:
            self._paused = True
        self.bus.publish(IntakeChanged(paused=True))

    def resume_intake(self) -> None:
        with self._lock:
            self._paused = False
        self.bus.publish(IntakeChanged(paused=False))
        self.prefetch.demand.set()
        self._start_held()

    @property
    def paused(self) -> bool:
        return self._paused

    def cancel_slot(self, slot: str, cause: StopCause = StopCause.OPERATOR) -> bool:
        """Cancel the running enrolment in ``slot``; False when nothing runs there."""
        with self._lock:
            sessions = [s for s in self._sessions.values() if s.slot == slot and not s.finished.is_set()]
        for s in sessions:
            s.stop(cause)
        return bool(sessions)

    def retry_person(self, upn: str) -> Any:
        return self.ctx.queue.retry(upn)

    def skip_person(self, upn: str) -> Any:
        return self.ctx.queue.skip(upn)

    def snapshot(self) -> EngineSnapshot:
        with self._lock:
            sessions = [s.snapshot() for s in self._sessions.values()]
            held: list[HeldKey] = [{"slot": c.slot, "fingerprint": c.fingerprint} for c in self._held.values()]
            last = dict(self._last)
        return {"paused": self._paused, "started": self._started, "sessions": sessions, "held": held,
                "finished": list(last.values()), "prefetched": len(self.prefetch.cached())}

    def active(self) -> int:
        with self._lock:
            return sum(1 for s in self._sessions.values() if not s.finished.is_set())

    # -- the daemon's loop ----------------------------------------------------------------------
    def loop_tick(self) -> None:
        """Housekeeping, called periodically by the daemon (its watchdog loop)."""
        self._reap()
        with self._lock:
            running = [s for s in self._sessions.values() if s.person is not None]
        pol, now = self.policy, self.clock.time()
        for s in running:
            if s.person is not None and s.enrolment_id is not None and not s.finished.is_set():
                self.ctx.queue.renew_lease(s.person.id, self.station_id, pol.lease_seconds)
                if not self.ctx.journal.renew_lease(s.enrolment_id, self.station_id, now + pol.lease_seconds) \
                        and s.holds is not KeyHolds.REGISTERED:
                    log.warning("enrolment %d in %s was adopted by another station after its lease ran out; "
                                "stopping it here", s.enrolment_id, s.slot)
                    s.stop(StopCause.LEASE_LOST)
        self.ctx.queue.expire_stale_leases()
        if time.monotonic() - self._last_reconcile >= RECONCILE_INTERVAL:
            self._last_reconcile = time.monotonic()
            self.reconcile_now()
        if self.heartbeat is not None:
            self.heartbeat(self.snapshot())

    def reconcile_now(self, *, due_only: bool = True) -> ReconcileReport:
        """The running station's reconciliation pass (every ``RECONCILE_INTERVAL``): rows whose registration
        outcome is unknown, and rows of ended sessions left unfinished, never a live session's row."""
        self._reap()
        with self._lock:
            busy = {s.enrolment_id for s in self._sessions.values()
                    if s.enrolment_id is not None and not s.finished.is_set()}
        report = self.reconciler.run(skip=busy, only=LATE_STATES, ended=self._ended, due_only=due_only)
        self._ended -= set(report.resolved)
        return report

    def _reap(self) -> None:
        """Forget finished sessions (keeping their last snapshot per slot); note rows they left unfinished."""
        with self._lock:
            for fp, s in list(self._sessions.items()):
                if s.finished.is_set():
                    self._last[s.slot] = s.snapshot()
                    del self._sessions[fp]
                    if s.enrolment_id is not None and s.step not in TERMINAL_STEPS:
                        self._ended.add(s.enrolment_id)  # e.g. the store refused the session's last writes

    def _next_wave(self) -> int:
        """How many people the next wave of insertions needs: the most keys in at once during the last
        ``PREFETCH_WAVE_MEMORY`` seconds (a key being swapped still counts). Called with the lock held."""
        now, keys_in = time.monotonic(), len(self._keys_in)
        if keys_in >= self._wave or now - self._wave_at > PREFETCH_WAVE_MEMORY:
            self._wave, self._wave_at = keys_in, now
        return self._wave

    def _prefetching(self) -> bool:
        """Whether a prefetch may still start (not while stopping, nor while intake is paused)."""
        return not self._stopping.is_set() and not self._paused

    def _prefetch_loop(self) -> None:
        demand = self.prefetch.demand
        while True:
            demand.wait(PREFETCH_INTERVAL if self.active() else PREFETCH_IDLE_INTERVAL)
            demand.clear()
            if self._stopping.is_set():
                return
            if self._paused:
                continue
            with self._lock:
                wave = self._next_wave()
            try:
                self.prefetch.refresh(go=self._prefetching, ahead=wave)
            except Exception:
                log.exception("prefetching creation options failed")
