"""Benchmark 9 — `station report` on a rollout of 100,000 people (10,000 with --quick).

The store holds what 60 days of a four-station rollout leave: 70 % of the people enrolled (a journal row
``done`` each, claim to done 25–95 s), 4 % failed (a ``failed`` row and the person marked failed), 8 % more
failed attempts whose person went back to the queue, 2 % skipped, the rest queued; 2,000 keys refused at
insertion in the audit trail. Rows are bulk-inserted (SQLAlchemy Core) after ``open_store`` migrated the
schema. Each figure is the wall time of the whole command (``station --store URL report --format F --out
FILE``: start-up, imports, queries, rendering, the atomic write), wall time and the process's CPU time, medians
of five runs, on SQLite and on PostgreSQL (127.0.0.1:5432). Target: under 5 s.
"""

from __future__ import annotations

import random
import resource
import subprocess
import time
from pathlib import Path
from typing import Any, Final

import psycopg

from bench.bulk import insert_rows
from bench.machine import station_command
from bench.report import Section
from bench.size import Size, pick
from bench.stats import median, spread
from station.store.models import AuditEvent, Enrolment, Person

TITLE = "9. station report on a 100,000-person rollout"
PG_ADMIN: Final = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DB: Final = "station_bench_report"
STATIONS: Final = ("kiosk-1", "kiosk-2", "pi-1", "pi-2")
MODELS: Final = ("YubiKey 5 Series with NFC", "YubiKey 5 FIPS Series with NFC", "Google Titan Security Key v2")
DAYS: Final = 60
REFUSALS: Final = 2000
RUNS: Final = 5
TARGET_SECONDS: Final = 5.0


def rows(people: int, seed: int = 9) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    rng = random.Random(seed)
    start = time.time() - DAYS * 86400
    persons, enrolments, audit = [], [], []
    for i in range(1, people + 1):
        roll = rng.random()
        state, note = "queued", ""
        at = start + rng.random() * DAYS * 86400
        station = STATIONS[i % len(STATIONS)]
        if roll < 0.70:
            state = "enrolled"
            enrolments.append(dict(person_id=i, station_id=station, state="done", model=MODELS[i % 3],
                                   error_reason=None,
                                   created_at=at, updated_at=at + rng.uniform(25, 95)))
        elif roll < 0.74:
            state, note = "failed", "touch_timeout: the key was not touched in time"
            enrolments.append(dict(person_id=i, station_id=station, state="failed", model=MODELS[0],
                                   error_reason="touch_timeout", created_at=at, updated_at=at + 31))
        elif roll < 0.82:
            enrolments.append(dict(person_id=i, station_id=station, state="failed", model=MODELS[1],
                                   error_reason="graph_throttled", created_at=at, updated_at=at + 12))
        elif roll < 0.84:
            state = "skipped"
        persons.append(dict(id=i, upn=f"user{i:06d}@contoso.example", display_name=f"User {i}", source="bench",
                            state=state, note=note, created_at=start, updated_at=start))
    for _ in range(REFUSALS):
        audit.append(dict(at=start + rng.random() * DAYS * 86400, station_id=rng.choice(STATIONS),
                          kind="key_rejected", detail='{"reason": "pin_already_set"}'))
    return persons, enrolments, audit


def fill(url: str, people: int) -> None:
    persons, enrolments, audit = rows(people)
    insert_rows(url, [(Person, persons), (Enrolment, enrolments), (AuditEvent, audit)])


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_report(url: str, fmt: str, out: Path, runs: int = RUNS) -> tuple[list[float], list[float]]:
    """Wall time and CPU time (user + system of the command's process) of each run."""
    wall, cpu = [], []
    for _ in range(runs):
        started, used = time.monotonic(), children_cpu()
        subprocess.run([*station_command(), "--store", url, "report", "--format", fmt, "--out", str(out)],
                       check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        wall.append(time.monotonic() - started)
        cpu.append(children_cpu() - used)
    return wall, cpu


def run(tmp: Path, size: Size) -> Section:
    people = pick(size, smoke=500, quick=10_000, full=100_000)
    section = Section("report", TITLE, "python -m bench.run report")
    stores = [("SQLite", f"sqlite:///{tmp / 'station.db'}")]
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {PG_DB}")
    stores.append(("PostgreSQL", f"postgresql://postgres@127.0.0.1:5432/{PG_DB}"))
    table = []
    try:
        for name, url in stores:
            fill(url, people)
            for fmt in ("html", "json", "csv"):
                out = tmp / f"report.{fmt}"
                wall, cpu = time_report(url, fmt, out, runs=pick(size, smoke=1, quick=RUNS, full=RUNS))
                table.append((name, fmt, f"{median(wall):.2f}", spread(wall), f"{median(cpu):.2f}", spread(cpu),
                               f"{out.stat().st_size / 1024:.0f}"))
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
    section.add(f"{people:,} people, {DAYS} days, {len(STATIONS)} stations; median of {RUNS} runs of the command "
                f"(target < {TARGET_SECONDS:g} s). Wall time depends on the machine's load; CPU time is the "
                "command's own process (user + system; PostgreSQL's server work is not in it): about what the wall "
                "time comes to on an idle machine, the command being single-threaded.", "")
    section.table(["store", "format", "wall median (s)", "wall spread (s)", "CPU median (s)", "CPU spread (s)",
                   "file (KiB)"], table)
    return section
