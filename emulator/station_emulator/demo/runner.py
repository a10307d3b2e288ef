"""``station demo``: the whole station on embedded defaults, against the emulators.

``run_demo`` starts the Entra ID emulator (a seeded tenant with the "Passkey rollout" group), writes a
configuration for it into a fresh state directory with the same code as ``station config init
--emulator``, imports the group into the store, and runs the daemon's own parts in-process with a virtual
key source and a scripted technician. It prints progress lines and a summary (``DemoResult``) and returns
once every person is enrolled or has failed for good (or ``timeout`` passes).
"""

from __future__ import annotations

import logging
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from station.config import Config, load_config
from station.config_template import emulator_config
from station.daemon import Daemon
from station.entra import EntraClient
from station.events import EnrolmentDone, EnrolmentFailed, Event, KeyRejected, PersonClaimed, TouchRequired
from station.i18n import speak
from station.sdnotify import Notifier
from station.store import NewPerson, Store
from station_emulator.demo.technician import GOOD_PROFILE, Technician
from station_emulator.entra import EntraEmulator
from station_emulator.entra.seed import GROUP_NAME
from station_emulator.key.profiles import get_profile, parse_quirks
from station_emulator.virtual_source import VirtualKeySource

log = logging.getLogger(__name__)

STATION_ID = "demo-1"
STATION_NAME = "Demo station"
DASHBOARD_LINGER_SECONDS = 3.0  # the dashboard stays this long after the queue is done, then the summary


@dataclass
class DemoOptions:
    users: int = 20
    keys: int = 4
    speed: float = 1.0
    seed: int = 1
    state_dir: Path | None = None
    timeout: float = 900.0
    dashboard: bool = False
    profile: str = GOOD_PROFILE
    quirks: tuple[str, ...] = ()
    language: str = "en"  # the station's: its dashboard, remedies and the letters of people without their own


@dataclass
class DemoResult:
    people: int
    enrolled: int
    failed_people: int
    refusals: Counter[str] = field(default_factory=Counter)
    elapsed: float = 0.0
    completed: bool = False

    @property
    def per_minute(self) -> float:
        return self.enrolled / (self.elapsed / 60) if self.elapsed > 0 else 0.0

    def lines(self) -> list[str]:
        out = [f"enrolled: {self.enrolled} of {self.people}",
               f"failed:   {sum(self.refusals.values())} key(s) refused or failed"
               + (f" ({', '.join(f'{r} ×{n}' for r, n in sorted(self.refusals.items()))})" if self.refusals else ""),
               f"time:     {self.elapsed:.1f} s",
               f"rate:     {self.per_minute:.1f} enrolments per minute"]
        if self.failed_people:
            out.insert(1, f"people who could not be enrolled: {self.failed_people}")
        if not self.completed:
            out.append("the queue was not finished in time")
        return out


class Progress:
    """Prints one line per thing a technician would notice, prefixed with the elapsed time."""

    def __init__(self, out: TextIO, total: int) -> None:
        self.out = out
        self.total = total
        self.started = time.monotonic()
        self.enrolled = 0
        self.refusals: Counter[str] = Counter()
        self._names: dict[str, str] = {}
        self._lock = threading.Lock()

    def on_event(self, event: Event) -> None:
        with self._lock:
            line = self._line(event)
            if line:
                self.out.write(f"[{time.monotonic() - self.started:6.1f}s] {line}\n")
                self.out.flush()

    def count(self, event: Event) -> None:
        """Tally outcomes without printing (the dashboard shows them)."""
        with self._lock:
            self._line(event)

    def _line(self, event: Event) -> str | None:
        if isinstance(event, PersonClaimed):
            self._names[event.slot] = event.display_name
            return f"{event.slot}: key for {event.display_name} <{event.upn}>"
        if isinstance(event, TouchRequired):
            return f"{event.slot}: touch the key"
        if isinstance(event, EnrolmentDone):
            self.enrolled += 1
            name = self._names.pop(event.slot, "") or event.upn
            return f"{event.slot}: ✓ {name} enrolled ({self.enrolled}/{self.total})"
        if isinstance(event, EnrolmentFailed):
            self.refusals[event.reason] += 1
            return f"{event.slot}: ✗ {event.upn}: {event.message} ({event.reason}) → {event.remedy}"
        if isinstance(event, KeyRejected):
            self.refusals[event.reason] += 1
            return f"{event.slot}: ✗ key refused: {event.message} → {event.remedy}"
        return None


def dashboard_runner() -> Callable[[Daemon, Callable[[], bool]], object] | None:
    """Shows the Textual dashboard for an in-process daemon until the operator quits or ``keep_running()`` turns
    false (the queue is done); None without the dashboard."""
    try:
        from station.tui.app import create_app, run_app
        from station.tui.source import EngineSource
    except ImportError:
        log.info("the dashboard is not installed; printing progress lines")
        return None

    def show(daemon: Daemon, keep_running: Callable[[], bool]) -> object:
        assert daemon.engine is not None
        source = EngineSource(daemon.engine, daemon.bus, daemon.status, fleet_fn=daemon.fleet,
                              keys=daemon.key_service())
        return run_app(create_app(source, title=STATION_NAME, mode="kiosk", keep_running=keep_running))

    return show


def prepare_state(emulator: EntraEmulator, state_dir: Path, profile: str = GOOD_PROFILE,
                  language: str = "en") -> Config:
    """Write the demo's configuration (as ``config init --emulator`` does) and load it; the station speaks
    ``language`` from here on, as a command does once it has read its configuration."""
    info = state_dir / "emulator.json"
    emulator.write_info(info)
    path = state_dir / "station.toml"
    path.write_text(emulator_config(info, state_dir, language), encoding="utf-8")
    speak(language)
    cfg = load_config(path)
    cfg.station.id = STATION_ID
    cfg.station.name = STATION_NAME
    cfg.station.state_dir = state_dir
    cfg.station.runtime_dir = state_dir / "run"
    cfg.enrolment.allowed_aaguids = [str(get_profile(profile).default_aaguid)]
    return cfg


def _profile_label(options: DemoOptions) -> str:
    profile = get_profile(options.profile)
    label = f"{profile.name} ({profile.product_name}"
    label += f", firmware {profile.firmware_label})" if profile.firmware_label else ")"
    return label + (f" with {', '.join(options.quirks)}" if options.quirks else "")


def import_group(cfg: Config, store: Store) -> int:
    """Queue the rollout group's members with their preferredLanguage, as ``station import --group`` does."""
    with EntraClient.from_config(cfg) as client:
        group = client.directory.resolve_group(GROUP_NAME)
        people = [NewPerson(upn=u.user_principal_name, display_name=u.display_name, object_id=u.id,
                            source="entra", preferred_language=u.preferred_language or None)
                  for u in client.directory.group_members(group.id)]
    store.queue.add_people(people)
    return len(people)


def queue_finished(store: Store) -> bool:
    counts = store.queue.counts()
    return counts.get("queued", 0) == 0 and counts.get("claimed", 0) == 0


def run_demo(options: DemoOptions, out: TextIO = sys.stdout,
             on_ready: Callable[[Daemon], None] | None = None) -> DemoResult:
    """Run the demo; with ``options.dashboard`` (and the dashboard installed) on the terminal's dashboard."""
    own_dir = options.state_dir is None
    state_dir = Path(tempfile.mkdtemp(prefix="station-demo-")) if own_dir else Path(str(options.state_dir))
    state_dir.mkdir(parents=True, exist_ok=True)
    try:
        with EntraEmulator(users=options.users, seed=options.seed, cert_dir=state_dir / "emulator") as emulator:
            return _run(options, emulator, state_dir, out, on_ready)
    finally:
        if own_dir:
            shutil.rmtree(state_dir, ignore_errors=True)


def _run(options: DemoOptions, emulator: EntraEmulator, state_dir: Path, out: TextIO,
         on_ready: Callable[[Daemon], None] | None) -> DemoResult:
    cfg = prepare_state(emulator, state_dir, options.profile, options.language)
    source = VirtualKeySource()
    daemon = Daemon(cfg, watchers=[source], notifier=Notifier(None), keep_log_level=True)
    started = time.monotonic()
    try:
        daemon.start()
        store, engine = daemon.store, daemon.engine
        assert store is not None and engine is not None
        people = import_group(cfg, store)
        out.write(f"Station demo: {people} people in '{GROUP_NAME}', {options.keys} key slot(s) of "
                  f"{_profile_label(options)}, speed ×{options.speed:g}\n"
                  f"state in {state_dir}; while it runs: station --config {cfg.source} status\n")
        out.flush()
        show_dashboard = dashboard_runner() if options.dashboard else None
        progress = Progress(out, people)
        if show_dashboard is None:
            daemon.bus.subscribe(progress.on_event)
        else:
            daemon.bus.subscribe(progress.count)

        def done() -> bool:
            return queue_finished(store) and engine.active() == 0

        technician = Technician(source, keys=options.keys, speed=options.speed, seed=options.seed,
                                waiting=lambda: store.queue.counts().get("queued", 0), done=done,
                                allowed_aaguid=cfg.enrolment.allowed_aaguids[0], profile=options.profile,
                                quirks=parse_quirks(options.quirks))
        daemon.bus.subscribe(technician.on_event)
        technician.start()
        if on_ready is not None:
            on_ready(daemon)
        deadline = started + options.timeout

        def finished() -> bool:
            return done() or time.monotonic() > deadline

        if show_dashboard is None:
            daemon.serve(until=finished)
        else:
            loop = threading.Thread(target=daemon.serve, kwargs={"until": finished}, name="demo-loop", daemon=True)
            loop.start()
            ended: list[float] = []

            def keep_running() -> bool:
                """Until the queue is done, and a moment after, so that the last cards can be seen."""
                if loop.is_alive():
                    return True
                ended[:] = ended or [time.monotonic()]
                return time.monotonic() - ended[0] < DASHBOARD_LINGER_SECONDS

            show_dashboard(daemon, keep_running)
            daemon.request_stop()
            loop.join()
        technician.stop()
        daemon.bus.flush()
        counts = store.queue.counts()
        return DemoResult(people=people, enrolled=counts.get("enrolled", 0), failed_people=counts.get("failed", 0),
                          refusals=progress.refusals, elapsed=time.monotonic() - started, completed=done())
    finally:
        daemon.shutdown(grace=5.0)
