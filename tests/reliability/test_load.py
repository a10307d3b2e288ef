"""Load: 16 keys at once against an Entra ID that throttles 10 % of Graph calls and fails 2 % with 503.

The issue asks for 16 keys × 500 enrolments. On a 2-core CI machine that is too long for every run, so by
default 500 enrolments in total go through 16 concurrently busy virtual keys; ``STATION_LOAD_ENROLMENTS=8000``
runs the full 16 × 500.

One station in this process (engine, SQLite store, the Entra client with real msal over HTTPS, the retry
policy with short backoffs), the Entra emulator answering 429 to 10 % and 503 to 2 % of Graph calls with
``Retry-After: 0``, and ``station_emulator.demo.technician.Technician`` keeping 16 virtual key slots busy (touching
each key when asked, pulling it out when done, now and then offering a used key the station refuses). A
housekeeper does what the daemon's loop does: lease renewal, and settling registrations whose answer was
lost (a 503 to the POST) once no key is busy. In the end every person is enrolled exactly once: one passkey
per person in Entra ID, made from the credential of the one finished journal row the store holds for them,
and the invariants of the fault matrix hold. The throughput is printed and written to
build/reliability/load.md; `make docs` copies it into README.md.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fido2.utils import websafe_decode
from invariants import check
from readme import RESULTS, write_result
from rig import Station, in_process_station, station_config
from support.waiting import wait_idle

from station.enroll.engine import LATE_STATES
from station.enroll.escrow import load_private_key
from station.store import NewPerson
from station.store.models import JournalState
from station_emulator.demo.technician import Technician
from station_emulator.entra import EntraEmulator

KEYS = 16
ENROLMENTS = int(os.environ.get("STATION_LOAD_ENROLMENTS", "500"))
THROTTLE_RATE = 0.10
ERROR_RATE = 0.02
TECHNICIAN_SPEED = 200.0
HOUSEKEEPING_SECONDS = 2.0
TIMEOUT = 60.0 + ENROLMENTS * 0.5
README = Path(__file__).resolve().parent / "README.md"


@pytest.fixture
def emu() -> Iterator[EntraEmulator]:
    with EntraEmulator(users=ENROLMENTS, seed=1600, throttle_rate=THROTTLE_RATE, error_rate=ERROR_RATE) as e:
        e.faults.retry_after = 0
        yield e


@pytest.fixture
def station(emu: EntraEmulator, tmp_path: Path) -> Iterator[Station]:
    cfg = station_config(emu, tmp_path, touch_timeout_seconds=10.0, prefetch=KEYS,
                         max_concurrent_graph_calls=KEYS)
    s = in_process_station(emu, tmp_path, cfg)
    people = sorted(emu.tenant.users.values(), key=lambda u: u["userPrincipalName"])
    s.store.queue.add_people(NewPerson(upn=u["userPrincipalName"], display_name=u["displayName"],
                                       object_id=u["id"], source="test") for u in people)
    try:
        yield s
    finally:
        s.close()


def test_sixteen_keys_enrol_everyone_exactly_once_under_throttling(emu: EntraEmulator, station: Station) -> None:
    counts = station.store.queue.counts
    technician = Technician(station.keys, keys=KEYS, speed=TECHNICIAN_SPEED, seed=16,
                            waiting=lambda: counts().get("queued", 0),
                            done=lambda: counts().get("enrolled", 0) >= ENROLMENTS)
    station.bus.subscribe(technician.on_event)
    stop = threading.Event()
    housekeeper = threading.Thread(target=housekeeping, args=(station, stop), daemon=True)
    started = time.monotonic()
    technician.start()
    housekeeper.start()
    try:
        deadline = started + TIMEOUT
        while counts().get("enrolled", 0) < ENROLMENTS:
            assert time.monotonic() < deadline, f"not everyone enrolled in {TIMEOUT:.0f} s: {counts()}"
            time.sleep(0.1)
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        technician.stop()
        housekeeper.join(10)
    assert wait_idle(station.engine, 30)
    station.bus.flush()

    per_minute = ENROLMENTS / elapsed * 60
    row = table_row(elapsed, per_minute, technician, emu)
    print(f"\nload: {ENROLMENTS} enrolments by {KEYS} keys at once in {elapsed:.1f} s = {per_minute:.0f} "
          f"enrolments/minute\n{LOAD_TEXT.splitlines()[-2]}\n{row}")

    assert_everyone_enrolled_once(station, emu)
    assert any(r.status == 429 for r in emu.request_log) and any(r.status == 503 for r in emu.request_log), \
        "the emulator injected no faults"
    write_readme(row)


def housekeeping(station: Station, stop: threading.Event) -> None:
    """The daemon's loop, faster: renew leases, and settle registrations whose answer was lost (the rows of
    sessions that have ended) every few seconds instead of every minute."""
    engine = station.engine
    while not stop.wait(HOUSEKEEPING_SECONDS):
        engine.loop_tick()
        busy = {s["enrolment_id"] for s in engine.snapshot()["sessions"] if not s["outcome"]}
        engine.reconciler.run(skip={b for b in busy if isinstance(b, int)}, only=LATE_STATES)


def assert_everyone_enrolled_once(station: Station, emu: EntraEmulator) -> None:
    people = station.store.queue.list()
    assert len(people) == ENROLMENTS
    assert {p.state for p in people} == {"enrolled"}
    for person in people:
        assert person.object_id is not None
        methods = emu.tenant.methods_of(person.object_id)
        assert len(methods) == 1, f"{person.upn} has {len(methods)} passkeys"
        done = [r for r in station.store.journal.for_person(person.id) if r.state == JournalState.DONE.value]
        assert len(done) == 1, f"{person.upn} has {len(done)} finished enrolments"
        assert done[0].credential_id and websafe_decode(done[0].credential_id) == methods[0].credential_id
    assert sum(len(emu.tenant.methods_of(str(u["id"]))) for u in emu.tenant.users.values()) == ENROLMENTS
    verdict = check(station.store, emu, [], load_private_key(station.private_key_pem),
                    station.config.enrolment.lease_seconds)
    assert verdict.ok, verdict.violations[:10]


def write_readme(row: str) -> None:
    """The load section under build/reliability/ (`make docs` copies it into README.md): the description, and
    one table row per kind of run — this run's, and the last kept one of every other kind."""
    kind = row.split("|")[1]
    previous = RESULTS / "load.md"
    source = previous.read_text() if previous.exists() else README.read_text() if README.exists() else ""
    kept = [line for line in section_rows(source) if line.split("|")[1] != kind]
    write_result("load", LOAD_TEXT + "\n".join(sorted([*kept, row])) + "\n")


def section_rows(text: str) -> list[str]:
    """The table rows of a load section: the README's marked one, or a section file of build/reliability/."""
    body = text.split("<!-- load begin -->", 1)[1].split("<!-- load end -->", 1)[0] if "<!-- load begin -->" in text \
        else text
    return [line for line in body.splitlines() if line.startswith("| ") and not line.startswith("| run ")]


def table_row(elapsed: float, per_minute: float, technician: Technician, emu: EntraEmulator) -> str:
    kind = "16 × 500" if ENROLMENTS >= KEYS * 500 else f"default, {ENROLMENTS} in all"
    graph = [r for r in emu.request_log if r.path.startswith(("/v1.0/", "/beta/"))]
    cells = [kind, time.strftime("%Y-%m-%d", time.gmtime()), str(ENROLMENTS), str(KEYS), f"{elapsed:.1f} s",
             f"{per_minute:.0f}", f"{technician.inserted} ({technician.bad_keys})", str(len(graph)),
             str(sum(1 for r in graph if r.status == 429)), str(sum(1 for r in graph if r.status == 503)),
             str(sum(1 for r in graph if r.status == 503 and r.method == "POST"))]
    return "| " + " | ".join(cells) + " |"


LOAD_TEXT = """## Load

Written by `tests/reliability/test_load.py`. The issue asks for 16 keys × 500 enrolments; on a 2-core CI
machine that takes too long for every run, so by default the test runs 500 enrolments in total through 16
concurrently busy virtual keys, and `STATION_LOAD_ENROLMENTS=8000` runs the full 16 × 500. One station in
the test process (engine, SQLite store, Entra client with real msal over HTTPS, short retry backoffs), the
Entra emulator in the same process answering 429 to 10 % and 503 to 2 % of Graph calls (`Retry-After: 0`),
and the demo's scripted technician keeping 16 slots busy (touching at once, now and then offering a used
key, which the station refuses). A 503 to the registration POST leaves its outcome unknown: the session
reads Entra ID, or the periodic reconciliation settles it. Every run ended with every person enrolled
exactly once: one passkey each in Entra ID, made from the credential of their one finished journal row,
and the fault matrix's invariants hold. The last run of each kind:

{header}
"""
COLUMNS = ["run", "date", "enrolments", "keys at once", "time", "enrolments/minute", "keys inserted (used, refused)",
           "Graph calls", "429", "503", "503 to a registration"]
LOAD_TEXT = LOAD_TEXT.format(header="| " + " | ".join(COLUMNS) + " |\n" + "|---" * len(COLUMNS) + "|")
