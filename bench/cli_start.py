"""Benchmark 10 — the command line as a technician meets it: whole ``station …`` processes, wall time and peak RSS.

Each command runs N times as its own process (GNU ``time`` gives its CPU time and peak RSS); the table shows
the median wall time, its spread, the median CPU time (steadier than wall time on a shared machine), the
largest peak RSS and the modules the command imports (``python -X importtime``, one more run). ``station
status`` runs with no daemon (it then says so and exits 1) and against a running ``station run`` whose SQLite
store holds the large queue; ``station queue list`` reads a store of 1,000 people. The daemon's RSS is
``VmRSS`` after it has settled with no key in. A bare ``python -c pass`` of the same interpreter is the floor.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.idle import SETTLE_SECONDS, configure, rss_mb, start_pcscd, stop
from bench.machine import station_command
from bench.queue_claims import load_sqlite
from bench.report import Section
from bench.rig import EntraProcess
from bench.size import Size, pick
from bench.stats import median, spread

TITLE = "10. Command-line start-up and the daemon's idle RSS"
WALL_TARGET_MS, RUN_RSS_TARGET_MB = 150.0, 60.0
LISTED = 1_000  # people in the store `station queue list` reads


def timed(argv: Sequence[str], env: dict[str, str]) -> tuple[float, float, float, int]:
    """Wall seconds, CPU seconds (user + system), peak RSS (MB) and exit code of one run of ``argv``. GNU time
    reports the peak RSS: the ``wait4`` figure of a child forked from this (large) process would count the
    memory of the fork."""
    with tempfile.NamedTemporaryFile("r") as out:
        started = time.perf_counter()
        code = subprocess.call(["/usr/bin/time", "-q", "-f", "%M %U %S", "-o", out.name, *argv], env=env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - started
        rss, user, system = out.read().split()[-3:]
        return wall, float(user) + float(system), int(rss) / 1024, code


def imported(argv: Sequence[str], env: dict[str, str]) -> int:
    """How many modules one run of ``argv`` imports (``-X importtime`` lines, the interpreter's own included)."""
    python = [sys.executable, "-X", "importtime"]
    command = [*python, *argv[1:]] if argv[0] == sys.executable else [*python, *argv]
    done = subprocess.run(command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, check=False)
    return sum(1 for line in done.stderr.splitlines() if line.startswith("import time:") and "|" in line) - 1


def measure(argv: Sequence[str], env: dict[str, str], repeats: int, target: bool) -> list[object]:
    """The table's cells for ``argv``: median wall, its spread, median CPU, peak RSS, modules, exit code, target."""
    timed(argv, env)  # warm the page cache and the bytecode cache
    walls, cpus, peak, code = [], [], 0.0, 0
    for _ in range(repeats):
        wall, cpu, rss, code = timed(argv, env)
        walls.append(wall * 1000)
        cpus.append(cpu * 1000)
        peak = max(peak, rss)
    verdict = ""
    if target:
        verdict = f"≤ {WALL_TARGET_MS:.0f} ms — {'meets' if median(walls) <= WALL_TARGET_MS else 'misses'}"
    return [f"{median(walls):.0f} ms", spread(walls), f"{median(cpus):.0f} ms", f"{peak:.0f} MB",
            imported(argv, env), code, verdict]


def store_with(path: Path, people: int) -> str:
    """A SQLite store at ``path`` (schema made by ``open_store``) holding ``people`` queued people."""
    from station.store import open_store

    url = f"sqlite:///{path}"
    open_store(url).close()
    for start in range(0, people, 200_000):
        load_sqlite(path, start, min(people, start + 200_000))
    return url


def shown(argv: Sequence[str], workdir: Path) -> str:
    """``argv`` as the table shows it: ``station …``, the benchmark's temporary directory written $TMP."""
    station = station_command()
    words = ["station", *argv[len(station):]] if list(argv[:len(station)]) == station else list(argv)
    words = ["python" if w == sys.executable else w.replace(str(workdir), "$TMP") for w in words]
    return "`" + " ".join(words) + "`"


def section(workdir: Path, repeats: int, people: int, pcsc_socket: Path) -> Section:
    """Benchmark 10 with ``repeats`` runs per command and ``people`` queued in the daemon's store; the NFC
    watcher talks to the pcscd listening on ``pcsc_socket``."""
    result = Section("cli", TITLE, "python -m bench.run cli")
    rows: list[list[object]] = []
    with EntraProcess(workdir, users=50, latency_ms=0) as entra:
        config = configure(workdir, entra.info_path)
        env = {**os.environ, "PCSCLITE_CSOCK_NAME": str(pcsc_socket),
               "STATION_STATE_DIR": str(workdir / "state"), "STATION_RUNTIME_DIR": str(workdir / "run")}
        small = store_with(workdir / "small.db", LISTED)
        big = store_with(workdir / "big.db", people)
        station = station_command()
        status = [*station, "status", "--config", str(config)]
        cases = [
            ("the floor", [sys.executable, "-c", "pass"]),
            ("", [*station, "--help"]),
            ("no daemon", status),
            (f"{LISTED:,} people", [*station, "queue", "list", "--config", str(config), "--store", small]),
        ]
        for note, argv in cases:
            rows.append([shown(argv, workdir), note, *measure(argv, env, repeats, target=argv[0] != sys.executable)])
        daemon = subprocess.Popen([*station, "run", "--config", str(config), "--store", big], env=env,
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=(workdir / "run.log").open("wb"))
        try:
            deadline = time.monotonic() + 120
            while timed(status, env)[3] != 0:
                if daemon.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"station run did not answer; see {workdir / 'run.log'}")
                time.sleep(0.5)
            time.sleep(SETTLE_SECONDS)
            daemon_rss = rss_mb(daemon.pid)
            rows.append([shown(status, workdir), f"daemon, {people:,} people", *measure(status, env, repeats, True)])
        finally:
            stop(daemon)
    result.add(f"{repeats} runs per command after one warm-up run. " + (__doc__ or "").split("\n\n")[1]
               .replace("\n", " "), "")
    result.table(["command", "", "wall (median)", "spread", "CPU, user + system (median)", "peak RSS",
                  "modules", "exit code", "target"], rows)
    verdict = "meets" if daemon_rss <= RUN_RSS_TARGET_MB else "misses"
    result.add(f"Idle `station run --store STORE` (store of {people:,} people, USB and NFC watchers): "
               f"{daemon_rss:.0f} MB RSS — target ≤ {RUN_RSS_TARGET_MB:.0f} MB, {verdict}.", "")
    return result


def run(workdir: Path, size: Size) -> Section:
    pcscd = start_pcscd(workdir)
    try:
        return section(workdir, pick(size, smoke=1, quick=5, full=15),
                       pick(size, smoke=2_000, quick=100_000, full=1_000_000),
                       pcscd.socket_path)  # type: ignore[attr-defined]
    finally:
        pcscd.stop()  # type: ignore[attr-defined]
