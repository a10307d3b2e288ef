"""Benchmark 11 — `station keys verify` over 10,000 people (1,000 with --quick) against the Entra emulator.

The emulator (``station_emulator``'s EntraEmulator, in the benchmark's process; Graph answers after an added
latency of 50 ms, about what Graph takes from Europe) holds one passkey per person; the store (SQLite) holds the
same people, each with a finished enrolment and its key in the inventory, bulk-inserted after ``open_store``
migrated the schema. Each figure is the wall time of the whole command, `station --config FILE keys verify
--json --concurrency N`, as a process; the median of the runs. The command must report the inventory clean.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any, Final

from bench.bulk import insert_rows
from bench.machine import station_command
from bench.report import Section
from bench.size import Size, pick
from bench.stats import median, spread
from station.config_template import emulator_config
from station.store.models import Enrolment, KeyRecord, Person
from station_emulator.entra import EntraEmulator
from station_emulator.entra.tenant import Fido2Method

TITLE = "11. station keys verify over 10,000 people"
LATENCY_MS: Final = 50.0
AAGUID: Final = "ee882879-721c-4913-9775-3dfcce97072a"
MODEL: Final = "YubiKey 5 Series with NFC"
RUNS: Final = 3


def add_passkeys(emu: EntraEmulator) -> list[dict[str, Any]]:
    """One passkey for every emulated person; the people, in UPN order."""
    users = sorted(emu.tenant.users.values(), key=lambda u: u["userPrincipalName"])
    for i, user in enumerate(users, start=1):
        emu.tenant.add_method(Fido2Method(id=f"bench-method-{i}", user_id=user["id"], credential_id=os.urandom(16),
                                          display_name=f"{MODEL} bench", created=time.time(), aaguid=AAGUID,
                                          model=MODEL, attestation_level="attested", attestation_certificates=[]))
    return users


def fill_store(url: str, users: list[dict[str, Any]]) -> None:
    """The people, each with a finished enrolment and its key in the inventory (method ids as add_passkeys')."""
    at = time.time() - 86400
    persons, enrolments, keys = [], [], []
    for i, user in enumerate(users, start=1):
        method_id = f"bench-method-{i}"
        persons.append(dict(id=i, upn=user["userPrincipalName"], display_name=user["displayName"],
                            object_id=user["id"], source="bench", state="enrolled", note="", created_at=at,
                            updated_at=at))
        enrolments.append(dict(id=i, person_id=i, station_id="bench", state="done", model=MODEL, aaguid=AAGUID,
                               method_id=method_id, created_at=at, updated_at=at))
        keys.append(dict(enrolment_id=i, identity=f"SN{i:08d}", serial=f"SN{i:08d}", aaguid=AAGUID, model=MODEL,
                         person_id=i, method_id=method_id, station_id="bench", state="active", enrolled_at=at,
                         updated_at=at))
    insert_rows(url, [(Person, persons), (Enrolment, enrolments), (KeyRecord, keys)])


def configured(emu: EntraEmulator, directory: Path, users: list[dict[str, Any]]) -> Path:
    """A station configuration for ``emu`` in ``directory``, its store holding ``users``."""
    directory.mkdir(parents=True, exist_ok=True)
    info = directory / "emulator.json"
    emu.write_info(info)
    config = directory / "station.toml"
    config.write_text(emulator_config(info, directory), encoding="utf-8")
    fill_store(f"sqlite:///{directory / 'station.db'}", users)
    return config


def time_verify(config: Path, concurrency: int, people: int) -> list[float]:
    walls = []
    for _ in range(RUNS):
        started = time.monotonic()
        done = subprocess.run([*station_command(), "--config", str(config), "keys", "verify", "--json",
                               "--concurrency", str(concurrency)], capture_output=True, text=True,
                              stdin=subprocess.DEVNULL)
        walls.append(time.monotonic() - started)
        answer = json.loads(done.stdout) if done.stdout.strip() else {}
        if done.returncode != 0 or answer.get("people_checked") != people or not answer.get("clean"):
            raise RuntimeError(f"station keys verify failed (exit {done.returncode}): {done.stderr[-500:]}")
    return walls


def run(tmp: Path, size: Size) -> Section:
    people = pick(size, smoke=20, quick=1_000, full=10_000)
    section = Section("verify", TITLE, "python -m bench.run verify")
    table = []
    with EntraEmulator(users=people, seed=11, latency_ms=LATENCY_MS) as emu:
        users = add_passkeys(emu)
        # One at a time only on a tenth of the people: at 50 ms a call, 10,000 would take over eight minutes.
        few = users[:max(min(people, 100), people // 10)]
        for concurrency, who, name in ((1, few, "few"), (8, users, "all"), (16, users, "all")):
            config = configured(emu, tmp / name, who) if not (tmp / name).exists() else tmp / name / "station.toml"
            walls = time_verify(config, concurrency, len(who))
            table.append((f"{concurrency}", f"{len(who):,}", f"{median(walls):.1f}", spread(walls),
                          f"{len(who) / median(walls):,.0f}"))
    section.add(f"{people:,} people with one key each, Graph latency {LATENCY_MS:g} ms per call (one list call per "
                f"person); median of {RUNS} runs of the whole command; every run reports the inventory clean.", "")
    section.table(["--concurrency", "people", "wall median (s)", "wall spread (s)", "people/s"], table)
    return section
