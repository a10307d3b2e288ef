"""A station killed with SIGKILL mid-enrolment, on a PostgreSQL store shared with a live station.

The victim (its own process, a virtual key, the Entra emulator over HTTPS) has made the credential and sent
the registration when it dies; Graph is slow, so the registration lands in Entra only after the sender is
gone. Its lease runs out; after the grace period the live station adopts the row (compare-and-set), asks
Entra first, finds the passkey and finishes the enrolment: exactly one passkey, no second POST.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from enrol_harness import emulator_config
from pg import pg_url  # noqa: F401  (fixture)

import station.enroll.engine as engine_module
from station.config import Config
from station.enroll.engine import Engine
from station.enroll.escrow import Escrow, generate_keypair
from station.entra import EntraClient
from station.events import EventBus
from station.store import NewPerson, Store, open_store
from station_emulator.entra import EntraEmulator
from station_emulator.key import Finger, VirtualKey
from station_emulator.virtual_source import VirtualKeySource

pytestmark = pytest.mark.realstack

LEASE_SECONDS = 2.0
GRACE_SECONDS = 3.0
GRAPH_LATENCY_MS = 3_000
SEND_MARGIN = 0.5  # after the row says 'registering', time for the POST to leave (well inside the latency)
TICK = 0.1


def _policy(cfg: Config) -> Any:
    """Short leases: the configuration's 30 s floor would make this test wait half a minute for nothing."""
    return cfg.enrolment.model_copy(update={"lease_seconds": LEASE_SECONDS})


def _engine(cfg: Config, store: Store, station_id: str, entra: EntraClient) -> Engine:
    assert cfg.enrolment.escrow_public_key
    return Engine(policy=_policy(cfg), station_id=station_id, queue=store.queue, journal=store.journal,
                  audit=store.audit, passkeys=entra.passkeys, bus=EventBus(),
                  escrow=Escrow.from_file(cfg.enrolment.escrow_public_key))


def _victim(url: str, cfg: Config) -> None:
    """A station as the daemon runs it: engine started, a key inserted, the housekeeping tick — until killed."""
    logging.basicConfig(level=logging.WARNING)
    store = open_store(url, "victim")
    entra = EntraClient(cfg)
    engine = _engine(cfg, store, "victim", entra)
    keys = VirtualKeySource()
    keys.start(engine.key_attached, engine.key_removed)
    engine.start()
    keys.insert(VirtualKey("fido21", finger=Finger.after(0.05)), slot="victim-usb-1")
    while True:
        engine.loop_tick()
        time.sleep(TICK)


@pytest.fixture
def emu() -> Iterator[EntraEmulator]:
    with EntraEmulator(users=2, seed=5) as e:
        yield e


def _wait(cond: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(0.02)
    raise AssertionError(f"{what} within {timeout} s")


def test_killed_station_row_is_resolved_by_another_without_a_second_registration(
        emu: EntraEmulator, pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    generate_keypair(tmp_path / "escrow")
    cfg = emulator_config(emu, tmp_path, escrow_public_key=str(tmp_path / "escrow" / "escrow-public.pem"),
                          touch_timeout_seconds=10.0, prefetch=0)
    store = open_store(pg_url, "survivor")
    user = sorted(emu.tenant.users.values(), key=lambda u: u["userPrincipalName"])[0]
    store.queue.add_people([NewPerson(upn=user["userPrincipalName"], display_name=user["displayName"],
                                      object_id=user["id"], source="test")])

    # the survivor is a live station: started, ticking as the daemon does, reconciling often
    monkeypatch.setattr(engine_module, "RECONCILE_INTERVAL", 0.2)
    survivor_entra = EntraClient(cfg)
    survivor = _engine(cfg, store, "survivor", survivor_entra)
    survivor.reconciler.takeover_grace = GRACE_SECONDS
    survivor.start()
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(TICK):
            survivor.loop_tick()

    ticker = threading.Thread(target=tick, name="survivor-tick")
    ticker.start()
    victim = mp.get_context("spawn").Process(target=_victim, args=(pg_url, cfg), name="victim")
    try:
        emu.faults.update({"latency_ms": GRAPH_LATENCY_MS})
        victim.start()
        row = _wait(lambda: next((r for r in store.journal.unfinished("victim")
                                  if r.state == "registering" and r.station_id == "victim"), None),
                    60, "the victim did not reach the registration")
        time.sleep(SEND_MARGIN)
        assert victim.pid is not None
        os.kill(victim.pid, signal.SIGKILL)
        victim.join(10)
        emu.faults.update({"latency_ms": 0})
        killed_at = time.time()
        at_kill = store.journal.get(row.id)
        assert at_kill is not None and at_kill.state == "registering" and at_kill.lease_expires is not None
        lease = at_kill.lease_expires

        _wait(lambda: emu.tenant.methods_of(user["id"]), 10, "the delayed registration did not reach Entra")
        _wait(lambda: (r := store.journal.get(row.id)) and r.station_id == "survivor",
              LEASE_SECONDS + GRACE_SECONDS + 20, "the survivor did not adopt the row")
        done = _wait(lambda: (r := store.journal.get(row.id)) and r.state == "done" and r,
                     20, "the survivor did not finish the row")
    finally:
        stop.set()
        ticker.join(10)
        survivor.stop()
        if victim.is_alive():
            victim.kill()
            victim.join(10)

    methods = emu.tenant.methods_of(user["id"])
    assert len(methods) == 1
    adopted_at = done.lease_expires - LEASE_SECONDS  # take_over's new lease; resolving leaves it alone
    assert adopted_at >= lease + GRACE_SECONDS, "adopted before the lease and its grace ran out"
    assert adopted_at - killed_at < LEASE_SECONDS + GRACE_SECONDS + 5
    assert methods[0].created < adopted_at, "the registration was to land before the survivor asked Entra"
    assert done.method_id == methods[0].id
    assert store.queue.get(user["userPrincipalName"]).state == "enrolled"
    posts = [r for r in emu.request_log if r.method == "POST" and "fido2Methods" in r.path]
    assert len(posts) == 1, "the survivor posted the registration again"
    reconciled = [e for e in store.audit.entries(enrolment_id=row.id) if e.kind == "reconciled"]
    assert [(e.station_id, e.detail["was"], e.detail["outcome"]) for e in reconciled] == \
        [("survivor", "registering", "done")]
    survivor_entra.close()
    store.close()
