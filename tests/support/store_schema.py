"""A store's schema as the database reports it (tables, columns with type, nullability and default, primary
keys, foreign keys, unique and check constraints, indexes with their order), to compare two stores; and a store left at
an older schema version."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from station.store.migrations import MIGRATIONS

Schema = dict[str, dict[str, Any]]


def describe(engine: Engine) -> Schema:
    """Each table's parts, keyed by name so that column order (ALTER TABLE appends) does not count."""
    insp = inspect(engine)
    out: Schema = {}
    for table in sorted(insp.get_table_names()):
        out[table] = {
            "columns": {c["name"]: (str(c["type"]), c["nullable"], _default(c.get("default")))
                        for c in insp.get_columns(table)},
            "primary key": tuple(insp.get_pk_constraint(table)["constrained_columns"]),
            "foreign keys": sorted((tuple(fk["constrained_columns"]), fk["referred_table"],
                                    tuple(fk["referred_columns"])) for fk in insp.get_foreign_keys(table)),
            "unique": sorted(tuple(u["column_names"]) for u in insp.get_unique_constraints(table)),
            "checks": sorted(str(c["sqltext"]) for c in insp.get_check_constraints(table)),
            "indexes": {ix["name"]: (tuple(ix["column_names"]), bool(ix["unique"]),
                                     sorted((c, tuple(s)) for c, s in ix.get("column_sorting", {}).items()))
                        for ix in insp.get_indexes(table)},
        }
    return out


def _default(default: str | None) -> str | None:
    return None if default is None else str(default).strip()


def differences(got: Schema, want: Schema) -> list[str]:
    """What ``got`` has that ``want`` lacks or has otherwise, one line per table part."""
    lines = [f"table {t}: only in one of them" for t in sorted(set(got) ^ set(want))]
    for table in sorted(set(got) & set(want)):
        for part, value in got[table].items():
            other = want[table][part]
            if isinstance(value, dict):
                for name in sorted(set(value) | set(other)):
                    if value.get(name) != other.get(name):
                        lines.append(f"{table} {part} {name}: {value.get(name)} vs {other.get(name)}")
            elif value != other:
                lines.append(f"{table} {part}: {value} vs {other}")
    return lines


def make_store_at(engine: Engine, version: int) -> None:
    """An empty database given schema ``version`` by the migrations up to it, as that release left it."""
    with engine.begin() as conn:
        for step in MIGRATIONS[:version]:
            step(conn)
        conn.execute(text("INSERT INTO meta (key, value) VALUES ('schema_version', :v)"), {"v": str(version)})
