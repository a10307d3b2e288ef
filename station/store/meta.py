"""Persistent key/value facts (the directory deltaLink, the schema version, the loaded FIDO metadata)."""

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

    def set_many(self, values: dict[str, str]) -> None:
        """Set several keys in one transaction: readers see all of them or none."""
        with Session(self.engine) as s:
            for key, value in values.items():
                s.merge(Meta(key=key, value=value))
            s.commit()
