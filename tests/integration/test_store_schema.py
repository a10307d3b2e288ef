"""The store's schema has one history: a store made by the first released schema and upgraded by the
migrations ends with exactly the schema of a new store, and that schema is the one the live models describe,
on SQLite and on PostgreSQL."""

from __future__ import annotations

import contextlib
import importlib
import pkgutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pg import fresh_database
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel
from support.store_schema import describe, differences, make_store_at

import station.store
from station.store.engine import make_engine
from station.store.migrations import SCHEMA_VERSION, current_version, migrate

# Every module of the store, so that each table model is registered in SQLModel.metadata.
for _module in pkgutil.iter_modules(station.store.__path__):
    importlib.import_module(f"station.store.{_module.name}")

NewEngine = Callable[[], contextlib.AbstractContextManager[Engine]]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.realstack)])
def new_engine(request: pytest.FixtureRequest, tmp_path: Path) -> NewEngine:
    """Makes an engine on a new, empty database of the parametrised kind."""
    counter = iter(range(100))

    @contextlib.contextmanager
    def make() -> Iterator[Engine]:
        with contextlib.ExitStack() as stack:
            if request.param == "sqlite":
                url = f"sqlite:///{tmp_path / f'store-{next(counter)}.db'}"
            else:
                url = stack.enter_context(fresh_database())
            engine = make_engine(url)
            stack.callback(engine.dispose)
            yield engine

    return make


@pytest.mark.parametrize("claim_index", [True, False], ids=["claim-index", "before-the-claim-index"])
def test_a_first_release_store_upgrades_to_the_schema_of_a_new_one(new_engine: NewEngine, claim_index: bool) -> None:
    with new_engine() as old, new_engine() as new:
        make_store_at(old, 1)  # the first released schema: version 1's DDL only
        if not claim_index:  # as the very first stores were made, before version 1 gained the claim index
            with old.begin() as conn:
                conn.execute(text("DROP INDEX ix_person_claim_order"))
        assert migrate(old) == SCHEMA_VERSION
        migrate(new)
        with old.connect() as conn:
            assert current_version(conn) == SCHEMA_VERSION
        upgraded, fresh = describe(old), describe(new)
        assert {"person", "keyassignment", "enrolment", "key_record", "key_handout", "meta"} <= set(fresh)
        assert differences(upgraded, fresh) == [], "an upgraded store and a new one have different schemas"


def test_the_migrations_make_the_schema_the_models_describe(new_engine: NewEngine) -> None:
    with new_engine() as migrated, new_engine() as modelled:
        migrate(migrated)
        SQLModel.metadata.create_all(modelled)
        found = differences(describe(modelled), describe(migrated))
        assert found == [], (
            "station/store/models.py (or another table model) and station/store/migrations.py disagree "
            "(models vs migrations):\n  " + "\n  ".join(found) + "\nAppend a migration to MIGRATIONS that makes "
            "this change on SQLite and PostgreSQL (ALTER TABLE … ADD COLUMN, CREATE INDEX …); never edit the DDL "
            "of a released version.")
