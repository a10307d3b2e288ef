"""The fault matrix's stations: in process (engine, store, Entra client, virtual keys) and as a real daemon process.

``StepTrigger`` fires a fault at one precise step of an enrolment — right after a journal write, when the
key asks for the touch, when Graph receives the registration POST, or while the key applies the final PIN
policy. ``DaemonProcess`` runs ``station_proc.py`` (the real ``Daemon``) against the same emulator and store;
``cut_power`` leaves of its SQLite store what a power cut would; ``small_filesystem`` and ``fill`` give a
store a real filesystem that runs full.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

from realstack import require
from support.child import ChildProcess

from station.config import Config, EnrolmentSection, StationSection, StoreSection, TenantSection
from station.enroll.engine import Engine
from station.enroll.escrow import Escrow, generate_keypair
from station.entra import EntraClient
from station.entra.retry import RetryPolicy
from station.events import Event, EventBus, StepChanged, TouchRequired
from station.store import open_store
from station.store.engine import make_engine
from station_emulator.entra import EntraEmulator
from station_emulator.virtual_source import VirtualKeySource

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))
from enrol_harness import Recorder, Station

__all__ = [
    "SYNCHRONOUS_FULL",
    "Station",
    "StationProcess",
    "StepTrigger",
    "cut_power",
    "in_process_station",
    "station_config",
    "synchronous_level",
    "write_toml",
]

HERE = Path(__file__).resolve().parent
JOURNAL_STEPS = {"claimed", "pin_escrowed", "pin_set", "credential_made", "registered"}
POST_PATH = r"/authentication/fido2Methods$"
LEASE_SECONDS = 30
LogLevel = Literal["debug", "info", "warning", "error"]


def escrow_keys(tmp: Path) -> tuple[Path, bytes]:
    keydir = tmp / "escrow"
    if not keydir.exists():
        generate_keypair(keydir)
    return keydir / "escrow-public.pem", (keydir / "escrow-private.pem").read_bytes()


def station_config(emu: EntraEmulator, tmp: Path, *, read_timeout: float = 10.0, log_level: LogLevel = "info",
                   store_dir: Path | None = None, **enrolment: Any) -> Config:
    secret = tmp / "client-secret"
    secret.write_text(emu.info.client_secret)
    os.chmod(secret, 0o600)
    public, _ = escrow_keys(tmp)
    enrolment.setdefault("escrow_public_key", str(public))
    enrolment.setdefault("prefetch", 0)
    enrolment.setdefault("touch_timeout_seconds", 5.0)
    enrolment.setdefault("lease_seconds", LEASE_SECONDS)
    tenant = TenantSection(tenant_id=emu.info.tenant_id, client_id=emu.info.client_id,
                           client_secret_file=str(secret), authority_host=emu.base_url, graph_host=emu.base_url,
                           ca_file=emu.info.ca_file, read_timeout=read_timeout, connect_timeout=2.0)
    station = StationSection(id="station-1", name="Desk 1", state_dir=tmp / "state", runtime_dir=tmp / "run",
                             log_level=log_level)
    db = (store_dir or tmp) / "station.db"
    return Config(station=station, tenant=tenant, store=StoreSection(url=f"sqlite:///{db}"),
                  enrolment=EnrolmentSection(**enrolment))


def write_toml(cfg: Config, path: Path) -> Path:
    lines: list[str] = []
    for section in ("station", "tenant", "store", "enrolment"):
        lines.append(f"[{section}]")
        for name, value in getattr(cfg, section).model_dump(mode="json", exclude_none=True).items():
            lines.append(f"{name} = {_toml(value)}")
    path.write_text("\n".join(lines) + "\n")
    return path


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def in_process_station(emu: EntraEmulator, tmp: Path, cfg: Config,
                       journal: Callable[[Any], Any] | None = None) -> Station:
    """A started station in this process, retrying Graph with short backoffs (same logic, less waiting)."""
    _, private_pem = escrow_keys(tmp)
    store = open_store(cfg.store_url, cfg.station.id)
    entra = EntraClient(cfg, retry=RetryPolicy(base=0.05, cap=0.4))
    bus = EventBus()
    events = Recorder(bus)
    engine = Engine(policy=cfg.enrolment, station_id=cfg.station.id, station_name=cfg.station.name,
                    queue=store.queue, journal=journal(store.journal) if journal else store.journal,
                    audit=store.audit, passkeys=entra.passkeys, bus=bus,
                    escrow=Escrow.from_file(cfg.enrolment.escrow_public_key))
    keys = VirtualKeySource()
    keys.start(engine.key_attached, engine.key_removed)
    engine.start()
    return Station(emu, store, entra, engine, bus, events, keys, private_pem, cfg)


class StepTrigger:
    """Calls ``action`` once, at ``step`` of the enrolment."""

    def __init__(self, step: str, action: Callable[[], None]) -> None:
        self.step = step
        self.action = action
        self.fired = threading.Event()

    def fire(self) -> None:
        if not self.fired.is_set():
            self.fired.set()
            self.action()

    def journal(self, inner: Any) -> Any:
        return _TriggerJournal(inner, self)

    def on_event(self, event: Event) -> None:
        if self.step == "touch" and isinstance(event, TouchRequired):
            self.fire()
        if self.step == "finalising" and isinstance(event, StepChanged) and event.step == "finalising":
            self.fire()

    def watch_post(self, emu: EntraEmulator) -> Callable[[], None]:
        """Fire when Graph receives the registration POST (whose answer is then lost); returns an undo."""
        if self.step != "post":
            return lambda: None
        original = emu.faults.before
        emu.faults.lose_next_response(POST_PATH, "POST")

        def before(method: str, path: str) -> Any:
            if method == "POST" and path.endswith("/authentication/fido2Methods"):
                self.fire()
            return original(method, path)

        emu.faults.before = before  # type: ignore[method-assign]

        def undo() -> None:
            emu.faults.before = original  # type: ignore[method-assign]
        return undo


class _TriggerJournal:
    def __init__(self, inner: Any, trigger: StepTrigger) -> None:
        self.inner, self.trigger = inner, trigger

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def open(self, *args: Any, **kwargs: Any) -> Any:
        row = self.inner.open(*args, **kwargs)
        if self.trigger.step == "claimed":
            self.trigger.fire()
        return row

    def advance(self, enrolment_id: int, state: Any = None, **fields: Any) -> Any:
        row = self.inner.advance(enrolment_id, state, **fields)
        if state is not None and str(state) == self.trigger.step:
            self.trigger.fire()
        return row


class StationProcess(ChildProcess):
    """``station_proc.py`` (the station with crash points and slow steps) as a child process; its log in a file."""

    def __init__(self, config: Path, log: Path, *, keys: tuple[Path, ...] = (), crash_at: str = "",
                 delay: float = 0.0) -> None:
        args = [sys.executable, str(HERE / "station_proc.py"), str(config), "--delay", str(delay)]
        for key in keys:
            args += ["--key", str(key)]
        if crash_at:
            args += ["--crash-at", crash_at]
        super().__init__(args, log, dict(os.environ, PYTHONPATH=str(HERE.parent.parent)), new_session=True)

    def stop(self, timeout: float = 20.0) -> int:
        return super().stop(timeout)


# SQLite's PRAGMA synchronous levels: from FULL on, a WAL-mode commit syncs the WAL before it returns.
SYNCHRONOUS_FULL = 2


def synchronous_level(scratch: Path) -> int:
    """The ``PRAGMA synchronous`` level the product's engine factory sets on a SQLite store (probed on a
    scratch database in ``scratch``)."""
    probe = make_engine(f"sqlite:///{scratch / 'synchronous-probe.db'}")
    try:
        with probe.connect() as conn:
            return int(conn.exec_driver_sql("PRAGMA synchronous").scalar_one())
    finally:
        probe.dispose()


def cut_power(db: Path) -> str:
    """Leave of the SQLite store at ``db`` (its process already SIGKILLed) what survives a power cut.

    In WAL mode SQLite syncs the WAL at every commit only with ``synchronous`` FULL or EXTRA; with NORMAL or
    OFF only what the last checkpoint synced into the database file is certain, so the WAL (and its index)
    is dropped. The level is the product's own: read from a connection made by its engine factory.
    Returns what was left, for the log."""
    level = synchronous_level(db.parent)
    if level >= SYNCHRONOUS_FULL:
        return f"synchronous={level}: every committed write kept"
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    return f"synchronous={level}: the WAL since the last checkpoint lost"


SMALL_FS_SIZE = "8m"


@contextlib.contextmanager
def small_filesystem() -> Iterator[Path]:
    """A fresh tmpfs of a few MiB (mounting needs root), unmounted afterwards."""
    require(os.geteuid() == 0, "mounting a tmpfs needs root")
    where = Path(tempfile.mkdtemp(prefix="st-matrix-fs-"))
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SMALL_FS_SIZE}", "tmpfs", str(where)],
                             capture_output=True, text=True, timeout=30)
    require(mounted.returncode == 0, f"cannot mount a tmpfs ({mounted.stderr.strip()})")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False, timeout=30)
        with contextlib.suppress(OSError):
            where.rmdir()


def fill(fs: Path) -> Path:
    """Fill ``fs`` to the last byte with one file; the file (delete it to free the space)."""
    filler = fs / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 20, 1 << 12, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)
    return filler


def wait_until(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"not in {timeout} s: {what}")
        time.sleep(0.05)
