"""Benchmark 5 — queue claims: claim latency with 10k, 100k and 1M queued people on SQLite and PostgreSQL,
and claims per second with 8 concurrent claimers (8 processes, as 8 stations) on PostgreSQL.

People are bulk-loaded (``executemany`` on SQLite, ``COPY`` on PostgreSQL), then ``ANALYZE``; each claim
is the store's own ``Queue.claim_next`` (one transaction: next queued person by priority and import
order, ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), timed end to end.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg

from bench.report import Section
from bench.size import Size, pick
from bench.stats import median, percentile, spread
from station.store import open_store

TITLE = "5. Queue claims at 10k, 100k and 1M queued people"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DB = "station_bench"
PG_URL = f"postgresql://postgres@127.0.0.1:5432/{PG_DB}"
COLUMNS = ("upn", "display_name", "object_id", "source", "priority", "state", "attempts", "note", "created_at",
           "updated_at")
TARGET_P99_MS = 5.0
TARGET_CONCURRENT_CLAIMS = 1_000  # per second, 8 claimer processes together
CLAIMERS = 8


def people(start: int, stop: int) -> Iterator[tuple[object, ...]]:
    now = time.time()
    for i in range(start, stop):
        yield (f"person{i:07d}@bench.example", f"Person {i}", f"00000000-0000-4000-8000-{i:012d}", "bench", 0,
               "queued", 0, "", now, now)


def load_sqlite(path: Path, start: int, stop: int) -> None:
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        marks = ", ".join("?" for _ in COLUMNS)
        with conn:
            conn.executemany(f"INSERT INTO person ({', '.join(COLUMNS)}) VALUES ({marks})", people(start, stop))
        conn.execute("ANALYZE")
    finally:
        conn.close()


def load_postgres(start: int, stop: int) -> None:
    with psycopg.connect(PG_URL) as conn:
        with conn.cursor() as cur, cur.copy(f"COPY person ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in people(start, stop):
                copy.write_row(row)
        conn.commit()
        conn.execute("ANALYZE person")
        conn.commit()


def reset_postgres() -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {PG_DB}")


def drop_postgres() -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")


def claim_latencies(url: str, claims: int) -> list[float]:
    store = open_store(url, "bench")
    try:
        store.queue.claim_next("bench", 600)
        out = []
        for _ in range(claims):
            t0 = time.perf_counter()
            person = store.queue.claim_next("bench", 600)
            out.append((time.perf_counter() - t0) * 1000)
            if person is None:
                raise RuntimeError("the queue ran dry")
        return out
    finally:
        store.close()


def _claimer(url: str, seconds: float, start_at: float, out: Any) -> None:
    store = open_store(url, "bench")
    ids = []
    while time.time() < start_at:
        time.sleep(0.005)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        person = store.queue.claim_next("bench", 600)
        if person is not None:
            ids.append(person.id)
    store.close()
    out.put(ids)


def concurrent_claims(url: str, claimers: int, seconds: float) -> tuple[float, int, int]:
    """(claims per second, claims, people claimed twice) with ``claimers`` processes at once."""
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    start_at = time.time() + 3.0
    procs = [ctx.Process(target=_claimer, args=(url, seconds, start_at, out)) for _ in range(claimers)]
    for p in procs:
        p.start()
    ids: list[int] = []
    for _ in procs:
        ids.extend(out.get(timeout=seconds + 60))
    for p in procs:
        p.join(10)
    return len(ids) / seconds, len(ids), len(ids) - len(set(ids))


def run(workdir: Path, size: Size) -> Section:
    sizes = pick(size, smoke=(1_000,), quick=(10_000, 100_000), full=(10_000, 100_000, 1_000_000))
    batches, claims = pick(size, smoke=(1, 20), quick=(2, 150), full=(3, 300))
    section = Section("queue", TITLE, "python -m bench.run queue")
    rows = []
    load_times: dict[str, list[str]] = {"SQLite": [], "PostgreSQL": []}
    sqlite_path = workdir / "queue.db"
    sqlite_url = f"sqlite:///{sqlite_path}"
    open_store(sqlite_url, "bench").close()
    reset_postgres()
    open_store(PG_URL, "bench").close()
    concurrency: list[tuple[float, int, int]] = []
    single: list[tuple[float, int, int]] = []
    try:
        loaded = 0
        for queued in sizes:
            for backend, load, url in (("SQLite", load_sqlite_at(sqlite_path), sqlite_url),
                                       ("PostgreSQL", load_postgres, PG_URL)):
                t0 = time.perf_counter()
                load(loaded, queued)
                load_times[backend].append(f"{queued:,}: {queued - loaded:,} rows in {time.perf_counter() - t0:.1f} s")
                p50s, p99s = [], []
                for _ in range(batches):
                    lat = claim_latencies(url, claims)
                    p50s.append(percentile(lat, 50))
                    p99s.append(percentile(lat, 99))
                verdict = "meets" if median(p99s) < TARGET_P99_MS else "misses"
                rows.append([backend, f"{queued:,}", f"{median(p50s):.2f}", spread(p50s), f"{median(p99s):.2f}",
                             spread(p99s), f"< {TARGET_P99_MS:.0f} ms — {verdict}"])
            loaded = queued
        seconds = pick(size, smoke=1.0, quick=5.0, full=10.0)
        for _ in range(pick(size, smoke=1, quick=1, full=3)):
            single.append(concurrent_claims(PG_URL, 1, seconds))
            concurrency.append(concurrent_claims(PG_URL, CLAIMERS, seconds))
    finally:
        drop_postgres()
    section.add(
        f"Sizes are people queued before claiming starts (the claims themselves take {batches} × {claims} + 1 "
        "people off the front at each size). Latency is the wall time of one `Queue.claim_next` call, one "
        f"claimer, {batches} batches of {claims} claims per size; p50/p99 per batch, the table shows their "
        "median over batches. SQLite in WAL mode on local disk; PostgreSQL on 127.0.0.1 through psycopg 3 "
        "(each claim checks a pooled connection out, as the station does).",
        "",
    )
    section.table(["store", "queued people", "claim p50 ms", "spread", "claim p99 ms", "spread", "target"], rows)
    rates = [c[0] for c in concurrency]
    singles = [c[0] for c in single]
    twice = sum(c[2] for c in concurrency)
    section.add(
        f"Concurrent claims on PostgreSQL ({sizes[-1]:,} people loaded): {CLAIMERS} claimer processes for "
        f"{seconds:.0f} s each run, {len(concurrency)} run(s): **{median(rates):.0f} claims/s** (target "
        f"≥ {TARGET_CONCURRENT_CLAIMS:,} — {'meets' if median(rates) >= TARGET_CONCURRENT_CLAIMS else 'misses'}) "
        f"(spread {spread(rates)}); one claimer process alone: {median(singles):.0f} claims/s "
        f"(spread {spread(singles)}); people claimed twice: {twice}. The machine has 2 cores, which the "
        "claimer processes and PostgreSQL share.",
        "",
        "Bulk loads: " + "; ".join(f"{k} — {', '.join(v)}" for k, v in load_times.items()) + ".",
        "",
    )
    return section


def load_sqlite_at(path: Path) -> Callable[[int, int], None]:
    def load(start: int, stop: int) -> None:
        load_sqlite(path, start, stop)

    return load
