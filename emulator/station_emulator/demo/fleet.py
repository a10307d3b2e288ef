"""``station demo --stations N --store URL``: a fleet — N station daemons sharing one store and one Entra emulator.

The parent starts the Entra emulator, writes the demo configuration (as the single-station demo does),
imports the rollout group into the shared store once, and starts one process per station. Each process
runs the daemon's own parts with its own virtual key source and scripted technician, as station
``demo-<i>``, until the shared queue is done. Progress lines carry the station's id; the summary counts
the whole queue and each station's share.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import TextIO

from station.config import load_config
from station.daemon import Daemon
from station.i18n import speak
from station.sdnotify import Notifier
from station.store import open_store
from station_emulator.demo.runner import DemoOptions, DemoResult, Progress, import_group, prepare_state, queue_finished
from station_emulator.demo.technician import Technician
from station_emulator.entra import EntraEmulator
from station_emulator.entra.seed import GROUP_NAME
from station_emulator.key.profiles import get_profile, parse_quirks
from station_emulator.virtual_source import VirtualKeySource

log = logging.getLogger(__name__)

STOP_SECONDS = 15.0


@dataclass(frozen=True)
class StationPlan:
    """What one station process needs (picklable: it crosses into a spawned process)."""

    index: int
    config_path: str
    store_url: str
    people: int
    options: DemoOptions

    @property
    def station_id(self) -> str:
        return f"demo-{self.index}"


class _Prefixed:
    """Progress lines of one station, prefixed with its id, on the inherited stdout."""

    def __init__(self, prefix: str, out: TextIO) -> None:
        self.prefix = prefix
        self.out = out

    def write(self, text: str) -> int:
        self.out.write("".join(f"{self.prefix} {line}\n" for line in text.splitlines()))
        return len(text)

    def flush(self) -> None:
        self.out.flush()


def run_station(plan: StationPlan) -> None:
    """One station of the fleet: the daemon's parts, virtual keys and a technician, until the queue is done."""
    logging.basicConfig(level=logging.WARNING, format=f"{plan.station_id} %(levelname)s %(name)s: %(message)s")
    cfg = load_config(Path(plan.config_path))
    speak(cfg.station.language)
    station_dir = Path(plan.config_path).parent / plan.station_id
    cfg.station.id = plan.station_id
    cfg.station.name = f"Demo station {plan.index}"
    cfg.station.state_dir = station_dir
    cfg.station.runtime_dir = station_dir / "run"
    cfg.store.url = plan.store_url
    cfg.enrolment.allowed_aaguids = [str(get_profile(plan.options.profile).default_aaguid)]
    source = VirtualKeySource()
    daemon = Daemon(cfg, watchers=[source], notifier=Notifier(None), keep_log_level=True)
    try:
        daemon.start()
        store, engine = daemon.store, daemon.engine
        assert store is not None and engine is not None
        progress = Progress(_Prefixed(f"{plan.station_id}", sys.stdout), plan.people)  # type: ignore[arg-type]
        daemon.bus.subscribe(progress.on_event)

        def done() -> bool:
            return queue_finished(store) and engine.active() == 0

        opts = plan.options
        technician = Technician(source, keys=opts.keys, speed=opts.speed, seed=opts.seed * 1000 + plan.index,
                                waiting=lambda: store.queue.counts().get("queued", 0), done=done,
                                allowed_aaguid=cfg.enrolment.allowed_aaguids[0], profile=opts.profile,
                                quirks=parse_quirks(opts.quirks))
        daemon.bus.subscribe(technician.on_event)
        technician.start()
        deadline = time.monotonic() + opts.timeout
        daemon.serve(until=lambda: done() or time.monotonic() > deadline)
        technician.stop()
        daemon.bus.flush()
    finally:
        daemon.shutdown(grace=5.0)


def run_fleet_demo(options: DemoOptions, stations: int, store_url: str | None = None,
                   out: TextIO = sys.stdout) -> DemoResult:
    """Run ``stations`` station processes on ``store_url`` (default: SQLite in the demo's state directory)
    against one Entra emulator; the whole queue's result."""
    own_dir = options.state_dir is None
    state_dir = Path(tempfile.mkdtemp(prefix="station-fleet-demo-")) if own_dir else Path(str(options.state_dir))
    state_dir.mkdir(parents=True, exist_ok=True)
    try:
        with EntraEmulator(users=options.users, seed=options.seed, cert_dir=state_dir / "emulator") as emulator:
            url = store_url or f"sqlite:///{state_dir.resolve() / 'fleet.db'}"
            return _run(options, stations, url, emulator, state_dir, out)
    finally:
        if own_dir:
            shutil.rmtree(state_dir, ignore_errors=True)


def _run(options: DemoOptions, stations: int, store_url: str, emulator: EntraEmulator, state_dir: Path,
         out: TextIO) -> DemoResult:
    cfg = prepare_state(emulator, state_dir, options.profile, options.language)
    cfg.store.url = store_url
    store = open_store(store_url, "demo-fleet")
    started = time.monotonic()
    try:
        people = import_group(cfg, store)
        out.write(f"Station fleet demo: {people} people in '{GROUP_NAME}', {stations} station(s) × "
                  f"{options.keys} key slot(s), one store; while it runs: station --store URL fleet\n")
        out.flush()
        ctx = mp.get_context("spawn")
        procs: list[BaseProcess] = [
            ctx.Process(target=run_station, name=f"demo-{i}",
                        args=(StationPlan(i, str(cfg.source), store_url, people, options),))
            for i in range(1, stations + 1)]
        try:
            for p in procs:
                p.start()
            deadline = started + options.timeout + STOP_SECONDS
            for p in procs:
                p.join(max(0.0, deadline - time.monotonic()))
        finally:
            _stop(procs)
        counts = store.queue.counts()
        refusals: Counter[str] = Counter()
        per_station: Counter[str] = Counter()
        for entry in store.audit.entries():
            if entry.kind == "done":
                per_station[entry.station_id] += 1
            elif entry.kind in ("failed", "key_rejected"):
                refusals[str(entry.detail.get("reason", "unknown"))] += 1
        out.write("".join(f"{sid}: {n} enrolled\n" for sid, n in sorted(per_station.items())))
        failed_stations = [p.name for p in procs if p.exitcode != 0]
        if failed_stations:
            out.write(f"station process(es) that did not end cleanly: {', '.join(failed_stations)}\n")
        return DemoResult(people=people, enrolled=counts.get("enrolled", 0), failed_people=counts.get("failed", 0),
                          refusals=refusals, elapsed=time.monotonic() - started,
                          completed=queue_finished(store) and not failed_stations)
    finally:
        store.close()


def _stop(procs: list[BaseProcess]) -> None:
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(STOP_SECONDS)
        if p.is_alive():
            log.warning("station process %s did not stop; killing it", p.name)
            p.kill()
            p.join(5)
