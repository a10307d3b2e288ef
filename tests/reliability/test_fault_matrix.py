"""The fault matrix: every journal step × every fault, emulated end to end, then the invariants.

Steps: after claim, after PIN escrow, after setPIN, during makeCredential, after the credential is made,
during the registration POST (its answer lost), after registration, during the final PIN-policy step.
Faults: kill -9 of the station process then a restart (the real ``Daemon`` in a child process, SIGKILLed at
that step); the key pulled out; Graph answering 429 or 503 beyond the retry budget (8 in a row); Graph
slower than the read timeout for 1.5 s; every access token revoked; Graph refusing every passkey lookup
with 403; the client secret rotated (401 on Graph, the token refused) until the station re-reads its secret
file; the station killed and kept down longer than the challenge's lifetime; a power cut (kill -9, then the
store as a power cut leaves it: ``rig.cut_power``); the store's filesystem (a small tmpfs) running full
until space is freed.

A lasting fault (403, 401, disk full) outlives the session: the running station's reconciliation runs while it lasts
and must conclude nothing. After the fault the station settles the way it would on its own (the running
station's periodic reconciliation, or the restart's), a fresh key is offered to whoever is back in the
queue, and ``invariants.check`` proves nothing was lost or let through, and that the person ends enrolled
(liveness). A full run writes the matrix to build/reliability/fault-matrix.md; ``python
tests/reliability/readme.py`` copies it into README.md.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from invariants import Verdict, check
from readme import write_result
from rig import (
    Station,
    StationProcess,
    StepTrigger,
    cut_power,
    fill,
    in_process_station,
    small_filesystem,
    station_config,
    wait_until,
    write_toml,
)
from support.waiting import wait_idle

from station.config import Config
from station.daemon import Daemon
from station.enroll.escrow import load_private_key
from station.events import Event, TouchRequired
from station.store import NewPerson, Store, open_store
from station.store.models import JournalState
from station_emulator.entra import EntraEmulator
from station_emulator.key import Faults, Finger, VirtualKey
from station_emulator.virtual_source import VirtualKeySource

STEPS = [
    ("claimed", "after claim"),
    ("pin_escrowed", "after PIN escrow"),
    ("pin_set", "after setPIN"),
    ("touch", "during makeCredential"),
    ("credential_made", "after the credential is made"),
    ("post", "during the registration POST, answer lost"),
    ("registered", "after registration"),
    ("finalising", "during the final PIN-policy step"),
]
FAULTS = [
    ("kill", "kill -9, restart"),
    ("removed", "key removed"),
    ("429", "Graph 429"),
    ("503", "Graph 503"),
    ("timeout", "Graph timeout"),
    ("revoked", "token revoked"),
    ("403", "lookup refused (403)"),
    ("401", "secret rotated (401), then reload"),
    ("expired", "down past the challenge lifetime"),
    ("powercut", "power cut"),
    ("diskfull", "disk full"),
]
# Faults that last until someone fixes them; the running station reconciles while they last.
LASTING = {"403", "401", "diskfull"}
# Faults that stop the station process: it is SIGKILLed at the step and started again.
PROCESS_FAULTS = {"kill", "expired", "powercut"}
# Graph's creation options live at least 5 minutes; the station stays down a minute longer.
DOWN_PAST_CHALLENGE = 6 * 60.0
LOOKUPS = r"/authentication/fido2Methods$"
BURST = 8
SLOW_MS = 800
SLOW_FOR = 1.5
READ_TIMEOUT = 0.3
RESULTS: dict[tuple[str, str], str] = {}


@pytest.fixture(scope="module")
def emu() -> Iterator[EntraEmulator]:
    with EntraEmulator(users=len(STEPS) * len(FAULTS) + 4, seed=1111) as e:
        yield e
    if len(RESULTS) == len(STEPS) * len(FAULTS):
        write_matrix()


def user_for(emu: EntraEmulator, step: str, fault: str) -> dict[str, object]:
    users = sorted(emu.tenant.users.values(), key=lambda u: str(u["userPrincipalName"]))
    index = [s for s, _ in STEPS].index(step) * len(FAULTS) + [f for f, _ in FAULTS].index(fault)
    return users[index]


def graph_fault(emu: EntraEmulator, fault: str, rotated: dict[str, str]) -> Callable[[], None]:
    def throttle() -> None:
        emu.faults.inject(429, count=BURST, retry_after=0)

    def unavailable() -> None:
        emu.faults.inject(503, count=BURST, retry_after=0)

    def slow() -> None:
        emu.faults.latency_ms = SLOW_MS
        timer = threading.Timer(SLOW_FOR, lambda: setattr(emu.faults, "latency_ms", 0.0))
        timer.daemon = True
        timer.start()

    def revoke() -> None:
        emu.faults.revoke_tokens()

    def refuse_lookups() -> None:
        emu.faults.inject(403, count=10**6, path=LOOKUPS, method="GET")

    def rotate() -> None:
        rotated["secret"] = emu.faults.rotate_secret()

    return {"429": throttle, "503": unavailable, "timeout": slow, "revoked": revoke, "403": refuse_lookups,
            "401": rotate}[fault]


CASES = [(s, f) for s, _ in STEPS for f, _ in FAULTS]


@pytest.mark.parametrize(("step", "fault"), CASES, ids=[f"{s}-{f}" for s, f in CASES])
def test_fault_at_step(emu: EntraEmulator, tmp_path: Path, step: str, fault: str) -> None:
    emu.faults.clear()
    try:
        if fault in PROCESS_FAULTS:
            verdict = killed_at(emu, tmp_path, step, fault)
        elif fault == "diskfull":
            with small_filesystem() as fs:
                verdict = faulted_at(emu, tmp_path, step, fault, store_dir=fs)
        else:
            verdict = faulted_at(emu, tmp_path, step, fault)
    finally:
        emu.faults.clear()
    RESULTS[(step, fault)] = verdict.outcome()
    assert verdict.ok, verdict.violations


def faulted_at(emu: EntraEmulator, tmp: Path, step: str, fault: str, store_dir: Path | None = None) -> Verdict:
    """A station in this process; the fault is injected at ``step``; the station settles; invariants."""
    cfg = station_config(emu, tmp, read_timeout=READ_TIMEOUT, store_dir=store_dir)
    user = user_for(emu, step, fault)
    key = VirtualKey("fido21", finger=Finger.manual(timeout=10.0),
                     faults=Faults(latency={"CONFIG": 1.0}))
    holder: dict[str, object] = {}
    rotated: dict[str, str] = {}

    def act() -> None:
        if fault == "removed":
            station.keys.remove(str(holder["slot"]))
        elif fault == "diskfull":
            assert store_dir is not None
            holder["filler"] = fill(store_dir)
        else:
            graph_fault(emu, fault, rotated)()

    trigger = StepTrigger(step, act)
    station = in_process_station(emu, tmp, cfg, journal=trigger.journal)
    undo = trigger.watch_post(emu)
    toucher = Toucher(key, trigger)
    station.bus.subscribe(trigger.on_event)
    station.bus.subscribe(toucher.on_event)
    try:
        station.store.queue.add_people([_new_person(user)])
        holder["slot"] = station.keys.insert(key).slot
        wait_until(trigger.fired.is_set, 20, f"the enrolment reaching {step}")
        assert wait_idle(station.engine, 30), "the session did not end"
        undo()
        if fault in LASTING:
            # The running station's reconciliation pass while the fault lasts.
            station.engine.reconcile_now(due_only=False)
        emu.faults.clear()
        if "secret" in rotated:
            reload_secret(station, rotated["secret"])
        if "filler" in holder:
            free_space(station, Path(str(holder["filler"])))
        # The running station's pass once a row's next check is due: settle it from Entra's answer.
        station.engine.reconcile_now(due_only=False)
        fresh = offer_fresh_key(station)
    finally:
        undo()
        station.close()
    private = load_private_key(station.private_key_pem)
    with_store = open_store(cfg.store_url, cfg.station.id)
    try:
        return check(with_store, emu, [key, *fresh], private, cfg.enrolment.lease_seconds,
                     [str(user["userPrincipalName"])])
    finally:
        with_store.close()


def free_space(station: Station, filler: Path) -> None:
    """The administrator frees space; the station's next health probe (a heartbeat write) finds the store
    writable again, as the daemon's loop does."""
    filler.unlink()
    store = station.store
    assert store.health.probe(lambda: store.stations.heartbeat(station.config.station.id, "")), \
        f"the store stays not writable: {store.health.problem}"


def reload_secret(station: Station, secret: str) -> None:
    """The administrator puts the new secret in the station's secret file and reloads (what SIGHUP does)."""
    Path(station.config.tenant.client_secret_file).write_text(secret)
    assert station.entra.tokens.reload_credential(), "the new secret was not picked up"


class Toucher:
    """The technician: touches the key when asked (after the trigger, when the fault is at the touch)."""

    def __init__(self, key: VirtualKey, trigger: StepTrigger) -> None:
        self.key, self.trigger = key, trigger

    def on_event(self, event: Event) -> None:
        if isinstance(event, TouchRequired) and not self.key.removed.is_set():
            self.key.finger.touch()


def offer_fresh_key(station: Station) -> list[VirtualKey]:
    """When the person is back in the queue, a new key enrols them (nothing was lost)."""
    if not station.store.queue.list(state="queued"):
        return []
    fresh = VirtualKey("fido21")
    station.keys.insert(fresh)
    assert wait_idle(station.engine, 30), "the fresh key's session did not end"
    return [fresh]


def _new_person(user: dict[str, object]) -> NewPerson:
    return NewPerson(upn=str(user["userPrincipalName"]), display_name=str(user["displayName"]),
                     object_id=str(user["id"]), source="test")


def killed_at(emu: EntraEmulator, tmp: Path, step: str, fault: str) -> Verdict:
    """The daemon as a process, SIGKILLed at ``step`` (then, for ``expired``, kept down past the challenge's
    lifetime; for ``powercut``, its store cut as a power cut leaves it); restarted with a fresh key;
    invariants."""
    cfg = station_config(emu, tmp)
    config = write_toml(cfg, tmp / "station.toml")
    user = user_for(emu, step, fault)
    store = open_store(cfg.store_url, cfg.station.id)
    try:
        store.queue.add_people([_new_person(user)])
    finally:
        store.close()
    old = tmp / "key-1.json"
    first = StationProcess(config, tmp / "first.log", keys=(old,), crash_at="" if step == "post" else step)
    trigger = StepTrigger(step, first.sigkill)
    undo = trigger.watch_post(emu)
    try:
        code = first.wait(60)
        assert code == -9, f"the station was not killed (exit {code}); log:\n{first.tail()}"
    finally:
        undo()
        first.ensure_gone()
    emu.faults.clear()
    if fault == "expired":
        emu.advance_clock(DOWN_PAST_CHALLENGE)
    if fault == "powercut":
        print(cut_power(tmp / "station.db"))
    fresh = restart(cfg)
    store = open_store(cfg.store_url, cfg.station.id)
    try:
        keys = [VirtualKey(state_path=old), *fresh]
        private = load_private_key((tmp / "escrow" / "escrow-private.pem").read_bytes())
        return check(store, emu, keys, private, cfg.enrolment.lease_seconds, [str(user["userPrincipalName"])])
    finally:
        store.close()


def restart(cfg: Config) -> list[VirtualKey]:
    """The station starting again on the same store (reconciling first), then a fresh key for whoever waits."""
    source = VirtualKeySource()
    daemon = Daemon(cfg, watchers=[source], control=False, keep_log_level=True)
    daemon.start()
    try:
        assert daemon.engine is not None and daemon.store is not None
        if not daemon.store.queue.list(state="queued"):
            return []
        fresh = VirtualKey("fido21")
        source.insert(fresh)
        wait_until(lambda: settled(daemon.store), 30, "the restarted station settling")  # type: ignore[arg-type]
        return [fresh]
    finally:
        daemon.shutdown(grace=10.0)


def settled(store: Store) -> bool:
    """Every journal row terminal, and nobody claimed or waiting (the fresh key took whoever was queued)."""
    people = store.queue.list()
    rows = [r for p in people for r in store.journal.for_person(p.id)]
    return all(JournalState(r.state).terminal for r in rows) and all(
        p.state not in ("claimed", "queued") for p in people)


def write_matrix() -> None:
    head = "| step \\ fault | " + " | ".join(label for _, label in FAULTS) + " |"
    rule = "|---" * (len(FAULTS) + 1) + "|"
    rows = [f"| {label} | " + " | ".join(RESULTS[(s, f)] for f, _ in FAULTS) + " |" for s, label in STEPS]
    write_result("fault-matrix", README_TEXT.format(matrix="\n".join([head, rule, *rows])))


README_TEXT = """## Fault matrix

Written by `tests/reliability/test_fault_matrix.py` (to build/reliability/fault-matrix.md; `python
tests/reliability/readme.py` copies it here).
Each cell is one enrolment (one person, one virtual key, the Entra emulator over HTTPS with real msal, a
SQLite store) with one fault injected at one step. *kill -9* runs the real station daemon as a child process
and SIGKILLs it at that step, then starts the daemon again on the same store; *down past the challenge
lifetime* does the same and moves the emulator's clock 6 minutes on before the restart (creation options
live 5); *power cut* SIGKILLs it and then leaves of the SQLite store what a power cut would (`rig.cut_power`:
with `synchronous` below FULL the WAL since the last checkpoint is lost). The other faults hit a running
station in the test process (*key removed*: the key is pulled out; *Graph 429/503*: 8 such answers in a row,
more than the retry budget; *Graph timeout*: Graph answers slower than the read timeout for 1.5 s; *token
revoked*: every access token is revoked; *lookup refused (403)*: Graph refuses every passkey lookup with 403
Authorization_RequestDenied; *secret rotated (401), then reload*: the app's client secret is replaced, so
Graph answers 401 and the authority refuses a token, until the new secret is written to the station's
secret file and re-read, as SIGHUP does; *disk full*: the SQLite store lives on an 8 MiB tmpfs that is
filled to the last byte, until the filler is deleted and the station's store probe finds it writable).
A lasting fault (403, 401, disk full) outlives the session: the running station's reconciliation runs
while it lasts and must conclude nothing. The station then settles on its own
(periodic reconciliation, or the restart's), and a fresh key is offered to whoever is back in the queue.

A cell lists the final journal states of the person's enrolments (first the faulted key, then the fresh key
if one was needed), the person's passkeys in Entra ID, the key PINs proven against their escrow, and orphan
credentials left on a key whose journal row asks for a reset. Every cell passed the invariant checker
(`invariants.py`): each passkey belongs to the person the journal says, nobody has two, no row unfinished
and nobody claimed after leases expire, a person is enrolled exactly when Entra holds their passkey, every
PIN on a key is escrowed (opened with the escrow private key and accepted by the key without costing a
retry), no orphan credential on a key unless its row asks for a reset, the audit log has every step, and
(liveness) the person ends enrolled.

{matrix}
"""
