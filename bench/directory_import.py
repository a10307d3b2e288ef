"""Benchmark 6 — directory import: users per second queueing a 100,000-member group from the Entra
emulator (paged) on SQLite and PostgreSQL, and where the time goes.

The emulator runs in its own process (``station emulate entra --users N``: its rollout group holds every
user, a fifth of them through a nested group). Each round imports into an empty store twice:

- ``station import --group ID`` as a subprocess (the command an operator runs: interpreter start-up,
  token, group lookup, paging, queue writes), then the same command again into the now full queue (a
  re-import in which nobody changed, as ``station sync`` re-reads imported groups); peak RSS from
  ``wait4``;
- the same functions in this process (``Directory.resolve_group``, then the command's ``import_group``:
  ``Directory.group_members`` paged into ``StagedImport.stage`` through the command's ``NewPerson``
  conversion, then ``StagedImport.apply``), timed phase by phase: HTTP round trips (``GraphHttp.request``,
  wrapped on the instance: TLS, the emulator serving the page, transfer), the client's JSON decoding and
  user objects (time inside the member iterator outside those round trips), the conversion, checks and
  staging writes (the rest of ``stage``), and the one transaction that writes the queue. The emulator's CPU
  over the paging comes from ``/proc/PID/stat``.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from bench.idle import configure, cpu_seconds
from bench.machine import station_command
from bench.queue_claims import PG_ADMIN
from bench.report import Section
from bench.rig import EntraProcess, station_config
from bench.size import Size, pick
from bench.stats import median
from station.commands.entra import _people, _remember_group
from station.config import Config
from station.entra import DirectoryUser, EntraClient
from station.lifecycle.leavers import GROUP_SOURCE
from station.store import AddResult, open_store

TITLE = "6. Directory import of a 100,000-member group"
TARGET_USERS_PER_S: dict[str, float] = {"SQLite": 20_000.0, "PostgreSQL": 15_000.0}  # into an empty queue
PG_DB = "station_bench_import"
PG_URL = PG_ADMIN.rsplit("/", 1)[0] + f"/{PG_DB}"
ROUNDS = 3
_SUMMARY = re.compile(r"(\d+) added, (\d+) updated, (\d+) unchanged")


@dataclass(frozen=True)
class CommandRun:
    seconds: float
    peak_rss_mb: float
    result: AddResult


@dataclass(frozen=True)
class Phases:
    """One in-process import, in seconds."""

    total: float
    lookup: float  # token and group lookup
    open: float  # open the store
    http: float  # paging: inside GraphHttp.request
    decode: float  # paging: inside the member iterator, outside GraphHttp.request (JSON, DirectoryUser)
    emulator_cpu: float  # the emulator process's CPU during the paging
    stage: float  # the rest of StagedImport.stage: NewPerson conversion, checks, staging writes
    client_cpu: float  # this process's CPU during paging and staging
    apply: float  # StagedImport.apply (one transaction), remember the group
    apply_cpu: float


def fresh_sqlite(path: Path) -> str:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


def fresh_postgres() -> str:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {PG_DB}")
    return PG_URL


def drop_postgres() -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")


def import_command(config: Path, store_url: str, group_id: str) -> CommandRun:
    """``station import --group`` as a subprocess: wall time, peak RSS and its summary line."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([*station_command(), "import", "--group", group_id, "--config", str(config),
                             "--store", store_url], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    out = proc.stdout.read() if proc.stdout else b""
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    m = _SUMMARY.search(out.decode())
    if proc.returncode != 0 or m is None:
        raise RuntimeError(f"station import failed ({proc.returncode}): {out.decode()[-2000:]}")
    return CommandRun(seconds, usage.ru_maxrss / 1024, AddResult(*(int(g) for g in m.groups())))


@contextmanager
def _timed_requests(client: EntraClient, spent: list[float]) -> Iterator[None]:
    """Add the wall time of every ``client.http.request`` call to ``spent[0]``."""
    original: Callable[..., Any] = client.http.request

    def request(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - t0

    client.http.request = request  # type: ignore[method-assign]
    try:
        yield
    finally:
        del client.http.request


@contextmanager
def _timed_members(client: EntraClient, spent: list[float]) -> Iterator[None]:
    """Add the wall time spent inside ``client.directory.group_members``'s iterator to ``spent[0]``."""
    original = client.directory.group_members

    def group_members(group_id: str) -> Iterator[DirectoryUser]:
        users = original(group_id)
        while True:
            t0 = time.perf_counter()
            user = next(users, None)
            spent[0] += time.perf_counter() - t0
            if user is None:
                return
            yield user

    client.directory.group_members = group_members  # type: ignore[method-assign]
    try:
        yield
    finally:
        del client.directory.group_members


def import_in_process(cfg: Config, group_id: str, store_url: str, emulator_pid: int, expected: int) -> Phases:
    http, paging = [0.0], [0.0]
    t0 = time.perf_counter()
    with EntraClient(cfg) as client, _timed_requests(client, http), _timed_members(client, paging):
        group = client.directory.resolve_group(group_id)
        t1 = time.perf_counter()
        store = open_store(store_url, "bench")
        try:
            t2, http[0] = time.perf_counter(), 0.0
            e2, c2 = cpu_seconds(emulator_pid), time.process_time()
            with store.staged_import() as batch:
                batch.stage(_people(client.directory.group_members(group.id), 0, GROUP_SOURCE))
                t3, e3, c3 = time.perf_counter(), cpu_seconds(emulator_pid), time.process_time()
                result = batch.apply()
            _remember_group(store, group.id)
        finally:
            store.close()
    t4, c4 = time.perf_counter(), time.process_time()
    if result.added != expected:
        raise RuntimeError(f"the import added {result.added} people, expected {expected}")
    return Phases(total=t4 - t0, lookup=t1 - t0, open=t2 - t1, http=http[0], decode=paging[0] - http[0],
                  emulator_cpu=e3 - e2, stage=t3 - t2 - paging[0], client_cpu=c3 - c2, apply=t4 - t3,
                  apply_cpu=c4 - c3)


def measure_backend(fresh: Callable[[], str], config: Path, cfg: Config, group_id: str, emulator_pid: int,
                    users: int) -> tuple[list[CommandRun], list[CommandRun], list[Phases]]:
    first, again, phases = [], [], []
    for _ in range(ROUNDS):
        url = fresh()
        first.append(import_command(config, url, group_id))
        again.append(import_command(config, url, group_id))
        if (first[-1].result.added, again[-1].result.unchanged) != (users, users):
            raise RuntimeError(f"imports reported {first[-1].result} then {again[-1].result} for {users} users")
        phases.append(import_in_process(cfg, group_id, fresh(), emulator_pid, users))
    return first, again, phases


def run(workdir: Path, size: Size) -> Section:
    users = pick(size, smoke=500, quick=20_000, full=100_000)
    section = Section("import", TITLE, "python -m bench.run import")
    t0 = time.perf_counter()
    with EntraProcess(workdir, users=users, latency_ms=0) as entra:
        startup = time.perf_counter() - t0
        assert entra.proc is not None
        config = configure(workdir, entra.info_path)
        cfg = station_config(entra.info, workdir / "client")
        group_id = entra.info["group_id"]
        results: dict[str, tuple[list[CommandRun], list[CommandRun], list[Phases]]] = {}
        results["SQLite"] = measure_backend(lambda: fresh_sqlite(workdir / "import.db"), config, cfg, group_id,
                                            entra.proc.pid, users)
        postgres = ""
        try:
            fresh_postgres()
        except psycopg.OperationalError as e:
            postgres = f"PostgreSQL was not measured: {str(e).strip()}"
        if not postgres:
            try:
                results["PostgreSQL"] = measure_backend(fresh_postgres, config, cfg, group_id, entra.proc.pid,
                                                        users)
            finally:
                drop_postgres()
    describe(section, users, startup, results, postgres)
    return section


def _rate(users: int, runs: list[CommandRun]) -> list[float]:
    return [users / r.seconds for r in runs]


def describe(section: Section, users: int, startup: float,
             results: dict[str, tuple[list[CommandRun], list[CommandRun], list[Phases]]], postgres: str) -> None:
    section.add(
        f"A group of {users:,} users (`station emulate entra --users {users}`; the emulator generated its "
        f"tenant and answered in {startup:.1f} s), {ROUNDS} rounds per store, each into an empty queue: "
        "`station import --group ID` as a subprocess (what an operator runs: interpreter start-up, token, "
        "group lookup, paging with `$top=999`, queue writes; peak RSS from `wait4`), the same command again "
        "into the full queue (a re-import in which nobody changed, as `station sync` re-reads imported "
        "groups), then the same functions in the benchmark's own process (`Directory.resolve_group`, then "
        "`Directory.group_members` paged through the command's NewPerson conversion into "
        "`StagedImport.stage`, a TEMP table outside the queue's lock, then `StagedImport.apply`, the one "
        "transaction that writes the queue) timed phase by phase: HTTP round trips are the wall time inside "
        "`GraphHttp.request` (wrapped on the instance), JSON decoding is the rest of the time inside the "
        "member iterator, staging is the rest of `stage`; the emulator's CPU comes from `/proc/PID/stat`. "
        "SQLite in WAL mode on local disk; PostgreSQL on 127.0.0.1 through psycopg 3.",
        "",
    )
    rows = []
    for backend, (first, again, _) in results.items():
        for what, runs in (("import into an empty queue", first), ("re-import, nobody changed", again)):
            rates = _rate(users, runs)
            target = TARGET_USERS_PER_S[backend]
            verdict = "meets" if median(rates) >= target else "misses"
            rows.append([backend, what, f"**{median(rates):,.0f}**", f"{min(rates):,.0f}–{max(rates):,.0f}",
                         f"{median([r.seconds for r in runs]):.1f} s", f"{max(r.peak_rss_mb for r in runs):.0f} MB",
                         f"≥ {target:,.0f} — {verdict}" if runs is first else ""])
    section.table(["store", "`station import --group` (subprocess)", "users/s", "spread", "wall", "peak RSS",
                   "target"], rows)
    names = list(results)
    phase_rows = []
    for label, phase_of in (
        ("token and group lookup", lambda p: p.lookup),
        ("open the store", lambda p: p.open),
        ("Graph paging: HTTP round trips (TLS, the emulator serving pages, transfer)", lambda p: p.http),
        ("… the emulator process's CPU over paging and staging", lambda p: p.emulator_cpu),
        ("Graph paging: JSON decoding and user objects (client side)", lambda p: p.decode),
        ("staging: NewPerson conversion, checks, TEMP table writes (`StagedImport.stage`)", lambda p: p.stage),
        ("… this process's CPU over paging and staging", lambda p: p.client_cpu),
        ("queue: `StagedImport.apply` (one transaction), remember the group", lambda p: p.apply),
        ("… this process's CPU meanwhile", lambda p: p.apply_cpu),
        ("in all", lambda p: p.total),
    ):
        row: list[object] = [label]
        for name in names:
            phases = results[name][2]
            values = [phase_of(p) for p in phases]
            share = median(values) / median([p.total for p in phases]) * 100
            row += [f"{median(values):.2f} s", f"{share:.0f} %" if not label.startswith("…") else ""]
        phase_rows.append(row)
    rates_row: list[object] = ["users/s in this process"]
    for name in names:
        rates_row += [f"{median([users / p.total for p in results[name][2]]):,.0f}", ""]
    phase_rows.append(rates_row)
    headers = ["where the time goes (in-process import, median of rounds)"]
    for name in names:
        headers += [name, "share"]
    section.table(headers, phase_rows)
    if postgres:
        section.add(postgres, "")
