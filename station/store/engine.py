"""Database engines: SQLite in WAL mode (embedded default) or PostgreSQL (a fleet) by URL.

On SQLite every transaction starts with ``BEGIN IMMEDIATE`` so that a read-then-write (a claim) is
atomic across processes; a busy timeout makes concurrent writers wait instead of failing. Commits are
durable: ``synchronous=FULL`` syncs the WAL at every commit, so a power cut loses no committed journal
write (with WAL, NORMAL syncs only at checkpoints and may lose the last commits — SQLite's documentation
says so). Its cost is measured in bench/BENCHMARKS.md (section 8).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import QueuePool
from sqlmodel import create_engine

from station.errors import StoreError
from station.sqlite_files import SQLITE_BUSY_TIMEOUT_MS, match_directory_owner, prepare_store_files, sqlite_file

SQLITE_SYNCHRONOUS = "FULL"


def normalise_url(url: str) -> str:
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    if url.startswith("postgresql+psycopg://"):
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
    raise StoreError(f"unsupported store URL scheme in {url.split(':', 1)[0]!r}",
                     remedy="Use sqlite:////ABSOLUTE/PATH or postgresql://USER@HOST/DB.")


def _sqlite_engine(url: str) -> Engine:
    path = sqlite_file(url)
    if path and path != ":memory:":
        prepare_store_files(path)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
                           poolclass=QueuePool, pool_size=1, max_overflow=0, pool_timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA synchronous={SQLITE_SYNCHRONOUS}")
        cur.close()
        if path and path != ":memory:":
            match_directory_owner(Path(path))

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"
