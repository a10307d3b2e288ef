"""The station registry: each station's identity, version, heartbeat and slot status (for a fleet view)."""

from __future__ import annotations

import json
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from station import __version__
from station.store.models import StationRecord, now


@dataclass(frozen=True)
class StationView:
    id: str
    name: str
    host: str
    version: str
    started_at: float
    heartbeat_at: float
    status: str
    slots: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


class Stations:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def register(self, station_id: str, name: str = "") -> None:
        with Session(self.engine) as s:
            s.merge(StationRecord(id=station_id, name=name, host=socket.gethostname(), version=__version__,
                                  started_at=now(), heartbeat_at=now()))
            s.commit()

    def heartbeat(self, station_id: str, status: str = "", slots: Sequence[Mapping[str, Any]] | None = None) -> None:
        with Session(self.engine) as s:
            rec = s.get(StationRecord, station_id) or StationRecord(id=station_id, host=socket.gethostname())
            rec.heartbeat_at = now()
            rec.status = status[:256]
            rec.version = __version__
            if slots is not None:
                rec.slots_json = json.dumps(slots, default=str)
            s.add(rec)
            s.commit()

    def all(self) -> list[StationView]:
        with Session(self.engine) as s:
            rows = s.exec(select(StationRecord).order_by(col(StationRecord.id))).all()
            return [StationView(r.id, r.name, r.host, r.version, r.started_at, r.heartbeat_at, r.status,
                                json.loads(r.slots_json or "[]")) for r in rows]
