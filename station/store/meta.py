"""Small persistent key/value facts (the directory deltaLink, the schema version)."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session

from station.store.models import Meta


class MetaStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, key: str) -> str | None:
        with Session(self.engine) as s:
            row = s.get(Meta, key)
            return row.value if row else None

    def set(self, key: str, value: str) -> None:
        with Session(self.engine) as s:
            s.merge(Meta(key=key, value=value))
            s.commit()
