"""What the enrolment benchmarks share: the Entra emulator as its own process, a station (engine, SQLite
store, Entra client, event bus) in this process, and a tracker that timestamps each key's enrolment
from the bus's events (insert, touch prompt, done)."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from bench.machine import station_command
from bench.remote_keys import RemoteKeys, stop_process
from station.config import Config, EnrolmentSection, TenantSection
from station.enroll.engine import Engine
from station.enroll.escrow import Escrow, generate_keypair
from station.entra import EntraClient
from station.events import EnrolmentDone, EnrolmentFailed, Event, EventBus, KeyAttached, KeyRejected, TouchRequired
from station.keys.catalogue import KeyCatalogue
from station.store import NewPerson, Store, open_store

# Realistic latencies (issue 10): Graph 150 ms per call; the key 150 ms in setPIN, 250 ms in makeCredential.
GRAPH_LATENCY_MS = 150.0
KEY_LATENCY = {"setPIN": 0.150, "makeCredential": 0.250}


class EntraProcess:
    """``station emulate entra`` in its own process; ``info`` is what its ``--info-json`` wrote."""

    def __init__(self, workdir: Path, *, users: int, latency_ms: float) -> None:
        self.info_path = workdir / "entra-info.json"
        self.args = [*station_command(), "emulate", "entra", "--users", str(users), "--latency-ms",
                     str(latency_ms), "--info-json", str(self.info_path), "--cert-dir", str(workdir / "entra-certs")]
        self.proc: subprocess.Popen[bytes] | None = None
        self.info: dict[str, str] = {}

    def __enter__(self) -> EntraProcess:
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while not self.info_path.exists() or not self.info_path.read_text().strip().endswith("}"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Entra emulator did not start: {self.args}")
            time.sleep(0.05)
        self.info = json.loads(self.info_path.read_text())
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.proc is not None:
            stop_process(self.proc)


def station_config(info: dict[str, str], workdir: Path, **enrolment: Any) -> Config:
    workdir.mkdir(parents=True, exist_ok=True)
    secret = workdir / "client-secret"
    secret.write_text(info["client_secret"])
    os.chmod(secret, 0o600)
    keydir = workdir / "escrow"
    if not (keydir / "escrow-public.pem").exists():
        generate_keypair(keydir)
    enrolment.setdefault("escrow_public_key", str(keydir / "escrow-public.pem"))
    tenant = TenantSection(tenant_id=info["tenant_id"], client_id=info["client_id"],
                           client_secret_file=str(secret), authority_host=info["graph_url"],
                           graph_host=info["graph_url"], ca_file=info["ca_file"])
    return Config(tenant=tenant, enrolment=EnrolmentSection(**enrolment))


@dataclass
class Run:
    """One key's enrolment as the bus told it (``time.time()`` seconds)."""

    slot: str
    attached: float
    prompt: float | None = None
    finished: float | None = None
    outcome: str = ""


class Tracker:
    """Per slot, the enrolment runs seen on the bus, in order; ``wait_finished`` blocks until one ends."""

    def __init__(self, bus: EventBus) -> None:
        self._cond = threading.Condition()
        self._by_slot: dict[str, list[Run]] = {}
        self.runs: list[Run] = []
        bus.subscribe(self._on)

    def _on(self, event: Event) -> None:
        slot = getattr(event, "slot", None)
        if slot is None:
            return
        with self._cond:
            if isinstance(event, KeyAttached):
                run = Run(slot, event.at)
                self._by_slot.setdefault(slot, []).append(run)
                self.runs.append(run)
                return
            runs = self._by_slot.get(slot)
            current = runs[-1] if runs else None
            if current is None or current.finished is not None:
                return
            if isinstance(event, TouchRequired):
                current.prompt = event.at
            elif isinstance(event, EnrolmentDone | EnrolmentFailed | KeyRejected):
                current.finished = event.at
                current.outcome = "done" if isinstance(event, EnrolmentDone) else event.reason
                self._cond.notify_all()

    def wait_finished(self, slot: str, index: int, timeout: float = 60.0) -> Run:
        """The ``index``-th (from 0) run in ``slot``, once it has ended."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                runs = self._by_slot.get(slot, [])
                if len(runs) > index and runs[index].finished is not None:
                    return runs[index]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError(f"enrolment {index} in {slot} did not end within {timeout} s")
                self._cond.wait(left)

    def done(self) -> list[Run]:
        with self._cond:
            return [r for r in self.runs if r.outcome == "done"]


@dataclass
class BenchStation:
    store: Store
    entra: EntraClient
    bus: EventBus
    engine: Engine
    tracker: Tracker
    config: Config
    extra: dict[str, Any] = field(default_factory=dict)

    def close(self) -> None:
        self.engine.stop()
        self.bus.flush()
        self.bus.close()
        self.entra.close()
        self.store.close()


def build_station(info: dict[str, str], workdir: Path, *, people: int, skip: int = 0,
                  wrap: Callable[[str, Any], Any] | None = None, models: KeyCatalogue | None = None,
                  **enrolment: Any) -> BenchStation:
    """A started station on a fresh SQLite store queueing ``people`` members of the rollout group (after
    the first ``skip``, so that repeated runs enrol different people). ``wrap(name, port)`` may replace
    the engine's queue, journal, audit and passkeys ports (to meter them); ``models`` is the key-model
    catalogue (FIDO metadata) the engine uses."""
    workdir.mkdir(parents=True, exist_ok=True)
    cfg = station_config(info, workdir, **enrolment)
    db = workdir / "station.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    store = open_store(f"sqlite:///{db}", "bench")
    entra = EntraClient(cfg)
    members: list[NewPerson] = []
    for n, user in enumerate(entra.directory.group_members(info["group_id"])):
        if n < skip:
            continue
        members.append(NewPerson(upn=user.user_principal_name, display_name=user.display_name,
                                 object_id=user.id, source="bench"))
        if len(members) >= people:
            break
    store.queue.add_people(members)
    bus = EventBus()
    tracker = Tracker(bus)
    ports: dict[str, Any] = {"queue": store.queue, "journal": store.journal, "audit": store.audit,
                             "passkeys": entra.passkeys}
    if wrap is not None:
        ports = {name: wrap(name, port) for name, port in ports.items()}
    engine = Engine(policy=cfg.enrolment, station_id="bench", station_name="Bench", **ports, bus=bus,
                    escrow=Escrow.from_file(cfg.enrolment.escrow_public_key), models=models)
    engine.start()
    return BenchStation(store, entra, bus, engine, tracker, cfg)


def enrol_once(station: BenchStation, keys: RemoteKeys, slot: str, index: int, timeout: float = 60.0) -> Run:
    """Plug a fresh key into ``slot``, wait until its enrolment (the slot's ``index``-th) ends, unplug it."""
    keys.plug(slot)
    run = station.tracker.wait_finished(slot, index, timeout)
    keys.unplug(slot)
    if run.outcome != "done":
        raise RuntimeError(f"enrolment {index} in {slot} ended with {run.outcome}")
    return run
