"""Benchmark 1 — station overhead: CPU time the station process spends per enrolment.

The virtual keys run in a key host process (:mod:`bench.keyhost`, CTAPHID reports over a SOCK_SEQPACKET
link, one report per system call like hidraw) and the Entra emulator in its own process, both with no
added latency and a key touched at once. This process is the station: engine, sessions, event bus,
SQLite store, msal + requests over HTTPS; ``time.process_time()`` (all its threads) is read around
``n`` back-to-back enrolments after a warm-up.
"""

from __future__ import annotations

import functools
import resource
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.remote_keys import KeyHost, RemoteKeys
from bench.report import Section
from bench.rig import EntraProcess, build_station, enrol_once
from bench.size import Size, pick
from bench.stats import median, spread

TITLE = "1. Station overhead — CPU per enrolment in the station process"
TARGET_MS = 20.0
WARMUP = 3
PORTS = [("the store: queue (claim, mark, peek)", "queue_ms"),
         ("the store: journal (with the audit entries of its steps)", "journal_ms"),
         ("the store: audit log, written alone", "audit_ms"), ("Graph calls (msal, requests, TLS)", "passkeys_ms")]


class Meter:
    """CPU time (``time.thread_time``, the calling thread's own) spent inside each port's methods."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = {}
        self._lock = threading.Lock()
        self.counting = False

    def wrap(self, name: str, port: Any) -> Any:
        return _Metered(self, name, port)

    def add(self, name: str, seconds: float) -> None:
        if self.counting:
            with self._lock:
                self.cpu[name] = self.cpu.get(name, 0.0) + seconds


class _Metered:
    def __init__(self, meter: Meter, name: str, port: Any) -> None:
        self._meter, self._name, self._port = meter, name, port

    def __getattr__(self, attr: str) -> Any:
        target = getattr(self._port, attr)
        if not callable(target):
            return target
        return _timed(self._meter, self._name, target)


def _timed(meter: Meter, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        start = time.thread_time()
        try:
            return fn(*args, **kwargs)
        finally:
            meter.add(name, time.thread_time() - start)

    return call


def measure(info: dict[str, str], socket_path: Path, workdir: Path, n: int, skip: int,
            **setup: Any) -> dict[str, float]:
    """CPU and wall time per enrolment; ``setup`` goes to ``build_station`` (key models, enrolment policy)."""
    meter = Meter()
    station = build_station(info, workdir, people=n + WARMUP, skip=skip, wrap=meter.wrap, **setup)
    keys = RemoteKeys(socket_path, station.engine.key_attached, station.engine.key_removed)
    try:
        for i in range(WARMUP):
            enrol_once(station, keys, "USB 1", i)
        station.bus.flush()
        meter.counting = True
        before = resource.getrusage(resource.RUSAGE_SELF)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for i in range(WARMUP, WARMUP + n):
            enrol_once(station, keys, "USB 1", i)
        station.bus.flush()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        after = resource.getrusage(resource.RUSAGE_SELF)
        meter.counting = False
    finally:
        station.close()
    return {
        "cpu_ms": cpu / n * 1000,
        "user_ms": (after.ru_utime - before.ru_utime) / n * 1000,
        "sys_ms": (after.ru_stime - before.ru_stime) / n * 1000,
        "wall_ms": wall / n * 1000,
        **{f"{name}_ms": seconds / n * 1000 for name, seconds in meter.cpu.items()},
    }


def run(workdir: Path, size: Size) -> Section:
    n, repeats = pick(size, smoke=(2, 1), quick=(15, 2), full=(40, 5))
    users = (n + WARMUP) * repeats
    section = Section("overhead", TITLE, "python -m bench.run overhead")
    socket_path = workdir / "keyhost.sock"
    results = []
    with EntraProcess(workdir, users=users, latency_ms=0) as entra, KeyHost(socket_path, {}, touch_after=0.0):
        for r in range(repeats):
            results.append(measure(entra.info, socket_path, workdir / f"overhead-{r}", n, skip=r * (n + WARMUP)))
    cpu = [r["cpu_ms"] for r in results]
    verdict = "meets" if median(cpu) <= TARGET_MS else "misses"
    section.add(
        f"{repeats} runs × {n} enrolments one after another (after {WARMUP} warm-up enrolments per run), "
        "one key at a time, touched at once, no added latency. The keys live in a separate key host process "
        "(`bench/keyhost.py`: CTAPHID over a SOCK_SEQPACKET socket, one 64-byte report per system call as "
        "with hidraw; python-fido2's unmodified `CtapHidDevice` on the station side) and the Entra emulator in "
        "another (`station emulate entra`), so their CPU is not counted. Counted: everything in the station "
        "process — engine and session threads, event bus, SQLite store (WAL), msal + requests over HTTPS, "
        "and the small benchmark driver that plugs keys and waits for the bus's EnrolmentDone.",
        "",
    )
    section.table(
        ["measure (per enrolment)", "median", "spread of runs", "target"],
        [
            ["CPU, station process (process_time)", f"{median(cpu):.1f} ms", spread(cpu) + " ms",
             f"≤ {TARGET_MS:.0f} ms — {verdict}"],
            ["of which user", f"{median([r['user_ms'] for r in results]):.1f} ms",
             spread([r["user_ms"] for r in results]) + " ms", ""],
            ["of which system", f"{median([r['sys_ms'] for r in results]):.1f} ms",
             spread([r["sys_ms"] for r in results]) + " ms", ""],
            *[[f"… in {what}", f"{median([r.get(key, 0.0) for r in results]):.1f} ms",
               spread([r.get(key, 0.0) for r in results]) + " ms", ""] for what, key in PORTS],
            ["… elsewhere (python-fido2 CTAP, engine, event bus, driver)",
             f"{median([r['cpu_ms'] - sum(r.get(k, 0.0) for _, k in PORTS) for r in results]):.1f} ms", "", ""],
            ["wall time, insert → done → next insert", f"{median([r['wall_ms'] for r in results]):.1f} ms",
             spread([r["wall_ms"] for r in results]) + " ms", ""],
        ],
    )
    return section
