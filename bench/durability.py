"""Benchmark 8 — durability: what SQLite ``synchronous=FULL`` (every commit's WAL write synced, so a power cut
loses no committed journal write) costs against ``NORMAL`` (synced only at checkpoints).

Each round opens a fresh store on the local disk with one setting and makes, per enrolment, the store writes a
session makes, in its order and with its row sizes: claim the next person, open the journal row and advance it
through its six later writes (PIN escrow ciphertext, credential id, a 1 KiB attestation object…), each step's
audit entries in its journal write (six in all), mark the person enrolled — 9 commits, as station/enroll/session.py
makes them. Rounds alternate between the settings, so both see the same
disk and the same load.
"""

from __future__ import annotations

import base64
import os
import time
from pathlib import Path
from typing import Any

import station.store.engine as store_engine
from bench.report import Section
from bench.size import Size, pick
from bench.stats import median, percentile, spread
from station.store import NewPerson, PersonState, open_store
from station.store.models import JournalState

TITLE = "8. Durability — SQLite synchronous=FULL against NORMAL"
SETTINGS = ("NORMAL", "FULL")


def _b64(n: int) -> str:
    return base64.urlsafe_b64encode(os.urandom(n)).decode().rstrip("=")


def one_enrolment(store: Any) -> tuple[float, float, float]:
    """The store writes of one enrolment; (claim ms, journal ms, all writes ms) wall time."""
    t0 = time.perf_counter()
    person = store.queue.claim_next("bench", 600)
    t1 = time.perf_counter()
    row = store.journal.open(person.id, "bench", slot="usb-1", transport="usb", key_fingerprint="usb-1",
                             aaguid="5a7e0000-2100-4000-8000-5a7e10000021", model="Bench key",
                             lease_expires=time.time() + 600, audit=[("claimed", {"slot": "usb-1"})])
    method_id = _b64(64)
    advances: list[tuple[JournalState, dict[str, Any]]] = [
        (JournalState.PIN_ESCROWED, {"pin_escrow": _b64(80)}),
        (JournalState.PIN_SET, {"audit": [("pin_set", {"escrowed": True, "pin_protocol": 2})]}),
        (JournalState.CREDENTIAL_MADE, {"credential_id": _b64(64), "attestation_object": _b64(1024),
                                        "client_data_json": _b64(200), "display_name": "Bench key 2026-12-04",
                                        "audit": [("credential_made", {"model": "Bench key"})]}),
        (JournalState.REGISTERING, {}),
        (JournalState.REGISTERED, {"method_id": method_id, "audit": [("registered", {"method_id": method_id})]}),
        (JournalState.DONE, {"pin_rules": "min_pin_length=8; pin_change=forced", "audit": [
            ("pin_rules", {"applied": "min_pin_length=8", "not_enforced": []}),
            ("done", {"display_name": "Bench key 2026-12-04"})]}),
    ]
    for state, fields in advances:
        store.journal.advance(row.id, state, **fields)
    t2 = time.perf_counter()
    store.queue.mark(person.id, PersonState.ENROLLED)
    t3 = time.perf_counter()
    return (t1 - t0) * 1000, (t2 - t1) * 1000, (t3 - t0) * 1000


def one_round(workdir: Path, setting: str, index: int, enrolments: int) -> dict[str, list[float]]:
    store_engine.SQLITE_SYNCHRONOUS = setting
    store = open_store(f"sqlite:///{workdir / f'{setting.lower()}-{index}.db'}", "bench")
    try:
        store.queue.add_people(NewPerson(upn=f"person{i:05d}@bench.example", display_name=f"Person {i}")
                               for i in range(enrolments + 10))
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == {"NORMAL": 1, "FULL": 2}[setting]
        claims, journal, writes = [], [], []
        cpu_start = time.process_time()
        for _ in range(enrolments):
            c, j, w = one_enrolment(store)
            claims.append(c)
            journal.append(j)
            writes.append(w)
        cpu_ms = (time.process_time() - cpu_start) * 1000 / enrolments
    finally:
        store.close()
        store_engine.SQLITE_SYNCHRONOUS = "FULL"
    return {"claim50": [median(claims)], "claim99": [percentile(claims, 99)], "journal50": [median(journal)],
            "journal99": [percentile(journal, 99)], "writes50": [median(writes)], "cpu": [cpu_ms]}


def run(workdir: Path, size: Size) -> Section:
    rounds, enrolments = pick(size, smoke=(1, 3), quick=(3, 40), full=(5, 100))
    results: dict[str, dict[str, list[float]]] = {s: {} for s in SETTINGS}
    for index in range(rounds):
        for setting in SETTINGS:
            for key, values in one_round(workdir, setting, index, enrolments).items():
                results[setting].setdefault(key, []).extend(values)
    section = Section("durability", TITLE, "python -m bench.run durability")
    section.add(f"{rounds} rounds × {enrolments} enrolments per setting, alternating, each round on a fresh SQLite "
                f"store (WAL) in the benchmark's temporary directory on the local disk (ext4 on a virtio disk "
                f"here); one enrolment's store writes as a session makes them: claim, journal open and 6 "
                f"advances carrying the steps' 6 audit entries, mark enrolled (9 commits). Figures are medians "
                f"over rounds of each round's p50/p99; CPU is process time per enrolment's writes.", "")
    rows = []
    for label, key in (("claim p50 ms", "claim50"), ("claim p99 ms", "claim99"),
                       ("journal writes per enrolment, p50 ms", "journal50"),
                       ("journal writes per enrolment, p99 ms", "journal99"),
                       ("all store writes per enrolment, p50 ms", "writes50"),
                       ("CPU per enrolment's store writes, ms", "cpu")):
        normal, full = results["NORMAL"][key], results["FULL"][key]
        rows.append((label, f"{median(normal):.2f}", spread(normal), f"{median(full):.2f}", spread(full),
                     f"{median(full) / median(normal):.1f}×" if median(normal) else "—"))
    section.table(("measure", "NORMAL", "spread", "FULL", "spread", "FULL / NORMAL"), rows)
    return section
