"""A station harness for the enrolment tests: real SQLite store, the Entra emulator over HTTPS with real
msal, the engine, a virtual key source and an event recorder. The technician is scripted by the test."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from support.waiting import Collected

from station.config import Config, EnrolmentSection, TenantSection
from station.enroll.engine import Engine
from station.enroll.escrow import Escrow, generate_keypair, load_private_key
from station.entra import EntraClient
from station.events import Event, EventBus
from station.store import NewPerson, Store, open_store
from station_emulator.entra import EntraEmulator
from station_emulator.virtual_source import VirtualKeySource

E = TypeVar("E", bound=Event)


class Recorder(Collected[Event]):
    """Every event the bus delivered, in order, with a way to wait for one."""

    def __init__(self, bus: EventBus) -> None:
        super().__init__()
        bus.subscribe(self.add)

    @property
    def events(self) -> list[Event]:
        return self.items

    def of(self, kind: type[E], **match: Any) -> list[E]:
        return [e for e in self.matching(lambda e: _is(e, kind, match)) if isinstance(e, kind)]

    def wait_for(self, kind: type[E], timeout: float = 20.0, **match: Any) -> E:  # type: ignore[override]
        found = super().wait_for(lambda e: _is(e, kind, match), timeout, f"{kind.__name__} {match}", latest=True)
        assert isinstance(found, kind)
        return found


def _is(event: Event, kind: type[Event], match: dict[str, Any]) -> bool:
    return isinstance(event, kind) and all(getattr(event, k) == v for k, v in match.items())


def emulator_config(emu: EntraEmulator, tmp: Path, **enrolment: Any) -> Config:
    secret = tmp / "client-secret"
    secret.write_text(emu.info.client_secret)
    os.chmod(secret, 0o600)
    tenant = TenantSection(tenant_id=emu.info.tenant_id, client_id=emu.info.client_id,
                           client_secret_file=str(secret), authority_host=emu.base_url,
                           graph_host=emu.base_url, ca_file=emu.info.ca_file, read_timeout=10.0)
    return Config(tenant=tenant, enrolment=EnrolmentSection(**enrolment))


@dataclass
class Station:
    emu: EntraEmulator
    store: Store
    entra: EntraClient
    engine: Engine
    bus: EventBus
    events: Recorder
    keys: VirtualKeySource
    private_key_pem: bytes
    config: Config
    extra: dict[str, Any] = field(default_factory=dict)

    def private_key(self) -> Any:
        return load_private_key(self.private_key_pem)

    def queue_users(self, count: int, start: int = 0, *, with_object_id: bool = True) -> list[dict[str, Any]]:
        users = sorted(self.emu.tenant.users.values(), key=lambda u: u["userPrincipalName"])[start:start + count]
        self.store.queue.add_people(
            NewPerson(upn=u["userPrincipalName"], display_name=u["displayName"],
                      object_id=u["id"] if with_object_id else None, source="test")
            for u in users)
        return users

    def wait(self, cond: Callable[[], bool], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > deadline:
                raise AssertionError("condition not met in time")
            time.sleep(0.02)

    def close(self) -> None:
        self.engine.stop()
        self.bus.flush()
        self.bus.close()
        self.entra.close()
        self.store.close()


def build_station(emu: EntraEmulator, tmp: Path, *, start: bool = True, station_id: str = "station-1",
                  journal: Callable[[Any], Any] | None = None, handouts: Callable[[Any], Any] | None = None,
                  **enrolment: Any) -> Station:
    """A started station; ``journal`` and ``handouts`` may wrap the store's (to simulate a crash)."""
    keydir = tmp / f"escrow-{station_id}"
    if not keydir.exists():
        generate_keypair(keydir)
    enrolment.setdefault("escrow_public_key", str(keydir / "escrow-public.pem"))
    enrolment.setdefault("touch_timeout_seconds", 5.0)
    cfg = emulator_config(emu, tmp, **enrolment)
    store = open_store(f"sqlite:///{tmp / 'station.db'}", station_id)
    entra = EntraClient(cfg)
    bus = EventBus()
    events = Recorder(bus)
    engine = Engine(policy=cfg.enrolment, station_id=station_id, station_name="Desk 1", queue=store.queue,
                    journal=journal(store.journal) if journal else store.journal, audit=store.audit,
                    passkeys=entra.passkeys, bus=bus,
                    escrow=Escrow.from_file(cfg.enrolment.escrow_public_key),
                    handouts=handouts(store.handouts) if handouts else store.handouts)
    keys = VirtualKeySource()
    keys.start(engine.key_attached, engine.key_removed)
    station = Station(emu, store, entra, engine, bus, events, keys,
                      (keydir / "escrow-private.pem").read_bytes(), cfg)
    if start:
        engine.start()
    return station
