"""Database engines: SQLite in WAL mode (embedded default) or PostgreSQL (a fleet) by URL.

On SQLite every transaction starts with ``BEGIN IMMEDIATE`` so that a read-then-write (a claim) is
atomic across processes; a busy timeout makes concurrent writers wait instead of failing. Commits are
durable: ``synchronous=FULL`` syncs the WAL at every commit, so a power cut loses no committed journal
write (with WAL, NORMAL syncs only at checkpoints and may lose the last commits — SQLite's documentation
says so). Its cost is measured in bench/BENCHMARKS.md (section 8).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import QueuePool
from sqlmodel import create_engine

from station.errors import StationError, StoreError
from station.files import create_private_file, private_dir, restrict_to_owner

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000
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
    path = url.split("///", 1)[1] if "///" in url else ""
    if path and path != ":memory:":
        try:
            # The database is made 0600 (its directory 0700) before SQLite opens it: SQLite gives the -wal and
            # -shm files the database's mode, so none of the three is readable by others whatever the umask.
            private_dir(Path(path).parent)
            create_private_file(path)
            for f in (path, f"{path}-wal", f"{path}-shm"):
                if (was := restrict_to_owner(f)) is not None:
                    log.warning("%s was mode %04o, readable by others; it is 0600 now", f, was)
        except (OSError, StationError) as e:
            why = e.strerror if isinstance(e, OSError) else e.message
            raise StoreError(f"cannot create the store {path}: {why}",
                             remedy="Set STATION_STATE_DIR or store.url to a writable place.") from None
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


def match_directory_owner(db: Path) -> None:
    """When root opens a store in a directory another user owns (an admin running `station import` beside
    the service), give the database and its WAL files to that user so the service can still write them."""
    if os.geteuid() != 0:
        return
    try:
        owner = db.parent.stat()
        for f in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
            if f.exists() and f.stat().st_uid != owner.st_uid:
                os.chown(f, owner.st_uid, owner.st_gid)
    except OSError as e:
        log.warning("cannot hand %s to the owner of its directory: %s", db, e.strerror)


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"
