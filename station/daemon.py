"""The station daemon: wiring and lifecycle.

``Daemon.start`` brings the parts up in order — the station's lock (one daemon per station id, taken before
anything reads the store) → store → Entra client (token check and policy preflight) →
LED/sound feedback → engine (reconciliation of unfinished enrolments) → key watchers → hand-out tracking →
control socket — and tells systemd READY=1. ``serve`` runs the daemon's loop: engine housekeeping (every
second while a key is in, every ten seconds while none is, and at once when a key arrives or intake is
paused or resumed), WATCHDOG=1 after every healthy pass and within WatchdogSec/2, STATUS= when the one-line
summary changes, the station registry heartbeat. ``shutdown`` stops intake, lets enrolments past the touch
finish within a bound (those still waiting for a touch are cancelled), then stops the parts in reverse order.
``run`` is all of that under signal handling, for ``station run``: SIGTERM/SIGINT stop, SIGHUP reloads
what can change safely, SIGUSR1 logs every thread's stack.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any, Final

from station.config import Config, load_config
from station.control import ControlServer, socket_path
from station.enroll.engine import Engine
from station.enroll.escrow_key import DeferredEscrow
from station.enroll.steps import SessionStep
from station.enroll.transitions import StopCause
from station.entra import EntraClient
from station.errors import AuthError, ConfigError, StationError, StoreNotWritableError
from station.events import Event, EventBus, IntakeChanged, KeyAttached
from station.feedback import FeedbackController
from station.fleet import STOPPED, fleet_view
from station.hid.candidate import KeyWatcher
from station.keys.persist import load_catalogue
from station.lifecycle.service import KeyService
from station.lifecycle.tracking_job import HandoutTracking
from station.metrics.off import metrics_for
from station.reload import LOG_LEVELS, apply_reload, uses_systemd_credential
from station.sdnotify import Notifier, watchdog_interval
from station.status import EntraMeter, MeteredPasskeys, StatusBoard
from station.store import Store, open_store, station_lock
from station.wire import EngineSnapshot, StatusSnapshot

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0
IDLE_TICK_SECONDS = 10.0
STOP_GRACE_SECONDS = 20.0
HEARTBEAT_SECONDS = 10.0
SERVICE_GROUP = "station"
# Steps before the credential exists: a session still here when the station stops is cancelled at once.
BEFORE_CREDENTIAL: Final = frozenset(step.value for step in SessionStep if step.before_credential)


def default_watchers() -> list[KeyWatcher]:
    """USB (udev hidraw) and NFC (PC/SC) key watchers."""
    from station.hid.nfc import NfcWatcher
    from station.hid.usb import UsbWatcher

    return [UsbWatcher(group=SERVICE_GROUP), NfcWatcher()]


class Daemon:
    def __init__(self, cfg: Config, *, watchers: Sequence[KeyWatcher] | None = None,
                 notifier: Notifier | None = None, control: bool = True, keep_log_level: bool = False) -> None:
        self.cfg = cfg
        self.notifier = notifier or Notifier.from_environment()
        self.bus = EventBus()
        self.health = EntraMeter()
        self.metrics = metrics_for(cfg.metrics, cfg.station.id, self.bus)
        self._watchers = list(watchers) if watchers is not None else None
        self._want_control = control
        self._keep_log_level = keep_log_level
        self.store: Store | None = None
        self.entra: EntraClient | None = None
        self.engine: Engine | None = None
        self.feedback: FeedbackController | None = None
        self.control: ControlServer | None = None
        self.board: StatusBoard | None = None
        self.watchers: list[KeyWatcher] = []
        self._watcher_notes: list[str] = []
        self._wake = threading.Event()
        self._tick_now = False
        self.bus.subscribe(self._on_event)
        self._stop_requested = False
        self._reload_requested = False
        self._stacks_requested = False
        self._summary = "starting"
        self._last_heartbeat = 0.0
        self._store_problem: str | None = None
        self._station_lock: station_lock.StationLock | None = None
        self._shut_down = False
        self.tracking = HandoutTracking(cfg.delegation)

    # -- start ----------------------------------------------------------------------------------
    def start(self) -> None:
        """Bring every part up; raises StationError (nothing left running) when the station cannot serve."""
        cfg = self.cfg
        if not self._keep_log_level:
            logging.getLogger().setLevel(LOG_LEVELS[cfg.station.log_level])
        try:
            self._start_store()
            self._start_entra()
            self._start_engine()
            self._start_watchers()
            self.metrics.start()
            self.tracking.start(self._store(), self.entra)
            if self._want_control:
                self.control = ControlServer(socket_path(cfg.station.runtime_dir), status=self.status,
                                             controls=self._engine(), bus=self.bus, fleet=self.fleet,
                                             keys=self.key_service(), group=SERVICE_GROUP)
                self.control.start()
        except BaseException:
            self._shut_down = True
            self._stop_parts()
            raise
        assert self.board is not None
        self.board.phase = "running"
        self._summary = self.board.snapshot()["summary"]
        self.notifier.ready(self._summary)
        log.info("station %s ready: %s", cfg.station.id, self._summary)

    def _start_store(self) -> None:
        cfg = self.cfg
        self._station_lock = station_lock.acquire(cfg.store_url, cfg.station.id)
        self.store = open_store(cfg.store_url, cfg.station.id)
        self.store.stations.register(cfg.station.id, cfg.station.name)

    def _start_entra(self) -> None:
        self.entra = EntraClient.from_config(self.cfg)
        self.metrics.watch(self.entra.session, self.cfg.tenant.graph_host)
        started = time.monotonic()
        try:
            self.entra.tokens.token()
        except AuthError as e:
            if not e.retryable:
                raise
            self.health.token_checked(False, f"{e.reason}: {e.message}")
            log.warning("no Entra ID token yet: %s → %s (enrolments fail until the authority answers)",
                        e.message, e.remedy)
        else:
            self.health.token_checked(True)
            self.health.succeeded(time.monotonic() - started)
        try:
            findings = self.entra.preflight()
        except StationError as e:
            log.warning("cannot check the tenant's passkey policy: %s → %s", e.message, e.remedy)
            return
        for finding in findings:
            if not finding.ok:
                log.warning("tenant check %s: %s → %s", finding.check, finding.detail, finding.remedy)

    def _start_engine(self) -> None:
        cfg, store, entra = self.cfg, self._store(), self.entra
        assert entra is not None
        escrow = DeferredEscrow(cfg.enrolment.escrow_public_key) if cfg.enrolment.escrow_public_key else None
        self.feedback = FeedbackController(cfg.feedback, self.bus)
        self.feedback.start()
        self._watcher_notes += [f"Feedback: {problem.message}" for problem in self.feedback.problems]
        self.engine = Engine(policy=cfg.enrolment, station_id=cfg.station.id, station_name=cfg.station.name,
                             queue=store.queue, journal=store.journal, audit=store.audit,
                             passkeys=MeteredPasskeys(self.metrics.passkeys(entra.passkeys), self.health),
                             bus=self.bus, escrow=escrow,
                             heartbeat=self._heartbeat, on_success=self.feedback.on_key_success,
                             models=load_catalogue(store.meta), handouts=store.handouts)
        self.board = StatusBoard(station_id=cfg.station.id, station_name=cfg.station.name, store=store,
                                 engine=self.engine, health=self.health, watchers=[], language=cfg.station.language,
                                 notes=lambda: list(self._watcher_notes) + self.metrics.problems)
        report = self.engine.start()
        if report.resolved or report.unresolved:
            log.info("reconciled unfinished enrolments: %s", report.to_dict())

    def _start_watchers(self) -> None:
        engine = self._engine()
        candidates = self._watchers if self._watchers is not None else default_watchers()
        for watcher in candidates:
            try:
                watcher.start(engine.key_attached, engine.key_removed)
            except Exception as e:
                name = type(watcher).__name__.removesuffix("Watcher").upper()
                note = f"{name}: not watching — {e}"
                self._watcher_notes.append(note)
                log.warning("%s", note)
                continue
            self.watchers.append(watcher)
        assert self.board is not None
        self.board.watchers = list(self.watchers)

    # -- the loop -------------------------------------------------------------------------------
    def serve(self, until: Callable[[], bool] | None = None) -> None:
        """Run the daemon's loop until a stop is requested (or ``until()`` is true).

        Housekeeping runs every ``TICK_SECONDS`` while a session runs (lease renewals) and every
        ``IDLE_TICK_SECONDS`` otherwise — and at once after a key arrives or intake changes, or at the next
        pass after one failed; WATCHDOG=1 follows every healthy pass, and the loop wakes at least every
        WatchdogSec/2.
        """
        watchdog = watchdog_interval()
        healthy, last = False, float("-inf")
        while True:
            busy = self._engine().active() > 0 or not healthy
            period = TICK_SECONDS if busy else IDLE_TICK_SECONDS
            self._wake.wait(max(0.0, min(last + period - time.monotonic(), watchdog or period)))
            self._wake.clear()
            if self._stacks_requested:
                self._stacks_requested = False
                log_thread_stacks()
            if self._reload_requested:
                self._reload_requested = False
                self.reload()
            if self._stop_requested or (until is not None and until()):
                return
            now = time.monotonic()
            if self._tick_now or not healthy or self._engine().active() > 0 or now - last >= IDLE_TICK_SECONDS:
                self._tick_now = False
                healthy, last = self.tick(), now
            if healthy:
                self.notifier.watchdog()
            self.notifier.status(self._summary)

    def tick(self) -> bool:
        """One pass of housekeeping; False when it failed (then no WATCHDOG=1 is sent)."""
        try:
            if self._store_writable():
                self._engine().loop_tick()
            assert self.board is not None
            snapshot = self.board.snapshot()
            self._summary = snapshot["summary"]
            self.metrics.observe(snapshot)
        except StoreNotWritableError as e:
            self.metrics.store_error()
            self._note_store(e.message)
            self._summary = e.message
        except Exception:
            log.exception("the daemon loop failed; the watchdog is not fed this time")
            return False
        return True

    def _store_writable(self) -> bool:
        """Whether the store takes writes; one marked not writable is probed with a heartbeat write."""
        store = self._store()
        problem = store.health.refresh()
        if problem is not None and store.health.probe(lambda: store.stations.heartbeat(self.cfg.station.id,
                                                                                         str(problem))):
            problem = None
        self._note_store(problem)
        return problem is None

    def _note_store(self, problem: str | None) -> None:
        if problem == self._store_problem:
            return
        if problem is not None:
            log.error("%s; keys are refused until then → %s", problem, StoreNotWritableError.remedy)
        else:
            log.info("the store is writable again; taking keys")
        self._store_problem = problem

    def _on_event(self, event: Event) -> None:
        if isinstance(event, KeyAttached | IntakeChanged):
            self._tick_now = True
            self._wake.set()

    def _heartbeat(self, snapshot: EngineSnapshot) -> None:
        now = time.monotonic()
        if now - self._last_heartbeat < HEARTBEAT_SECONDS:
            return
        self._last_heartbeat = now
        self._store().stations.heartbeat(self.cfg.station.id, self._summary, snapshot.get("sessions", []))
        self.metrics.heartbeat_written()

    def status(self) -> StatusSnapshot:
        if self.board is None:
            raise StationError("the station is still starting", retryable=True, remedy="Ask again in a moment.")
        return self.board.snapshot()

    def fleet(self) -> dict[str, Any]:
        """Every station sharing this daemon's store, and the queue totals (``station.fleet``'s view)."""
        return fleet_view(self._store()).to_dict()

    def key_service(self) -> KeyService:
        """The key inventory and its lifecycle (revoke, replace, hand out) for the control socket and dashboard."""
        assert self.entra is not None
        return KeyService.for_station(self.cfg, self._store(), self.entra)

    # -- requests (safe from signal handlers and other threads) -------------------------------
    def request_stop(self) -> None:
        self._stop_requested = True
        self._wake.set()

    def request_reload(self) -> None:
        self._reload_requested = True
        self._wake.set()

    def request_stacks(self) -> None:
        self._stacks_requested = True
        self._wake.set()

    # -- reload ---------------------------------------------------------------------------------
    def reload(self) -> list[str]:
        """Re-read the configuration file; apply what is safe, log what needs a restart. Returns the changes."""
        self.notifier.reloading()
        try:
            fresh = load_config(self.cfg.source)
        except ConfigError as e:
            log.error("reload refused, keeping the running configuration: %s; %s", e.message, "; ".join(e.problems))
            self.notifier.status(self._summary)
            return []
        applied = apply_reload(self.cfg, fresh)
        applied += self._reload_credential()
        applied += self._reload_models()
        if not applied:
            log.info("reload: nothing changed")
        self.notifier.status(self._summary)
        return applied

    def _reload_models(self) -> list[str]:
        """Pick up FIDO metadata loaded since the start (station mds load on this or another station)."""
        engine, models = self._engine(), load_catalogue(self._store().meta)
        if models.source == engine.ctx.models.source:
            return []
        engine.use_models(models)
        log.info("reload: key models from %s", models.source)
        return ["fido_metadata"]

    def _reload_credential(self) -> list[str]:
        """Re-read the client secret or certificate files; on a change, get a token with them at once."""
        if self.entra is None or not self.cfg.tenant.configured:
            return []
        try:
            if not self.entra.tokens.reload_credential():
                if uses_systemd_credential(self.cfg):
                    log.warning("reload: the client credential is unchanged; systemd copies credentials "
                                "(LoadCredential=) only when the service starts: after rotating it, run "
                                "'systemctl restart station'")
                return []
            self.entra.tokens.token()
        except StationError as e:
            self.health.token_checked(False, f"{e.reason}: {e.message}")
            log.error("reload: client credential: %s → %s", e.message, e.remedy)
            return []
        self.health.token_checked(True)
        log.info("reload: client credential re-read; a token was issued with it")
        return ["tenant credential"]

    # -- stop -----------------------------------------------------------------------------------
    def shutdown(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Stop intake, let enrolments past the touch finish (within ``grace``), stop the parts in reverse."""
        if self._shut_down:
            return
        self._shut_down = True
        if self.board is not None:
            self.board.phase = "stopping"
        self.notifier.stopping("stopping · finishing enrolments in progress")
        log.info("stopping: no new keys; waiting up to %g s for enrolments in progress", grace)
        if self.engine is not None:
            self.engine.pause_intake()
            left = drain(self.engine, grace)
            if left:
                log.warning("%d enrolment(s) did not reach a safe point in %g s; cancelling them", left, grace)
        self._stop_parts()
        log.info("station stopped")

    def _stop_parts(self) -> None:
        self.tracking.stop()
        if self.control is not None:
            self.control.stop()
        for watcher in reversed(self.watchers):
            try:
                watcher.stop()
            except Exception:
                log.exception("stopping %s failed", type(watcher).__name__)
        if self.engine is not None:
            self.engine.stop(timeout=5.0)
        if self.feedback is not None:
            self.feedback.stop()
        if self.store is not None:
            with contextlib.suppress(StationError, Exception):
                self.store.stations.heartbeat(self.cfg.station.id, STOPPED, [])
        if self.entra is not None:
            self.entra.close()
        self.bus.flush()
        self.metrics.stop()
        self.bus.close()
        if self.store is not None:
            self.store.close()
        if self._station_lock is not None:
            self._station_lock.release()
        self.notifier.close()

    # -- `station run` --------------------------------------------------------------------------
    def run(self) -> int:
        """Start, serve until SIGTERM/SIGINT, shut down; the exit code (0 after a clean stop)."""
        previous = install_signal_handlers(self)
        try:
            self.start()
            self.serve()
        finally:
            self.shutdown()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        return 0

    def _engine(self) -> Engine:
        assert self.engine is not None
        return self.engine

    def _store(self) -> Store:
        assert self.store is not None
        return self.store


def drain(engine: Engine, grace: float) -> int:
    """Cancel sessions that have no credential yet, wait for the rest; the number still running after ``grace``."""
    deadline = time.monotonic() + grace
    while engine.active() and time.monotonic() < deadline:
        for session in engine.snapshot()["sessions"]:
            if not session.get("outcome") and session.get("step") in BEFORE_CREDENTIAL:
                engine.cancel_slot(str(session["slot"]), StopCause.SHUTDOWN)
        time.sleep(0.05)
    return engine.active()


def install_signal_handlers(daemon: Daemon) -> dict[int, Any]:
    def on_stop(_signum: int, _frame: FrameType | None) -> None:
        daemon.request_stop()

    def on_reload(_signum: int, _frame: FrameType | None) -> None:
        daemon.request_reload()

    def on_stacks(_signum: int, _frame: FrameType | None) -> None:
        daemon.request_stacks()

    handlers = {signal.SIGTERM: on_stop, signal.SIGINT: on_stop, signal.SIGHUP: on_reload,
                signal.SIGUSR1: on_stacks}
    return {int(s): signal.signal(s, h) for s, h in handlers.items()}


def log_thread_stacks() -> None:
    names = {t.ident: t.name for t in threading.enumerate()}
    frames = sys._current_frames()
    log.info("%d thread(s):", len(frames))
    for ident, frame in frames.items():
        stack = "".join(traceback.format_stack(frame)).rstrip()
        log.info("thread %s (%s):\n%s", names.get(ident, "?"), ident, stack)
