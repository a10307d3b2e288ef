"""Persistence: the queue, the enrolment journal, stations, audit and metadata over SQLite or PostgreSQL."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from station.config import redact_url
from station.errors import StoreError
from station.store.audit import Audit
from station.store.engine import make_engine
from station.store.handouts import Handouts
from station.store.health import StoreHealth, WritableQueue, sqlite_path, watch
from station.store.inventory import Inventory
from station.store.journal import Journal, JournalRow
from station.store.meta import MetaStore
from station.store.migrations import migrate
from station.store.models import JournalState, PersonState
from station.store.queue import AddResult, NewPerson, PersonView, Queue
from station.store.staged_import import StagedImport, staged_import
from station.store.stations import Stations

__all__ = [
    "AddResult", "Audit", "JournalRow", "JournalState", "NewPerson", "PersonState", "PersonView", "Store",
    "StoreHealth", "open_store",
]


@dataclass
class Store:
    engine: Engine
    queue: Queue
    journal: Journal
    audit: Audit
    meta: MetaStore
    stations: Stations
    health: StoreHealth

    @property
    def inventory(self) -> Inventory:
        return Inventory(self.engine)

    @property
    def handouts(self) -> Handouts:
        return Handouts(self.engine)

    def staged_import(self) -> AbstractContextManager[StagedImport]:
        """A large import, staged page by page and applied in one transaction (station/store/staged_import.py)."""
        return staged_import(self.engine)

    def close(self) -> None:
        self.engine.dispose()


def open_store(url: str, station_id: str = "") -> Store:
    """Open (and migrate) the store at ``url``."""
    engine = make_engine(url)
    db = sqlite_path(url)
    health = StoreHealth(str(db) if db else redact_url(url), db)
    watch(engine, health)
    try:
        migrate(engine)
    except SQLAlchemyError as e:
        engine.dispose()
        cause = getattr(e, "orig", None) or e
        raise StoreError(f"cannot open the store {redact_url(url)}: {cause}") from None
    return Store(engine, WritableQueue(engine, health), Journal(engine), Audit(engine, station_id),
                 MetaStore(engine), Stations(engine), health)
