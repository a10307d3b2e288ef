"""Database engines: SQLite in WAL mode (embedded default) or PostgreSQL (a fleet) by URL.

On SQLite every transaction starts with ``BEGIN IMMEDIATE`` so that a read-then-write (a claim) is
atomic across processes; a busy timeout makes concurrent writers wait instead of failing. Commits are
durable: ``synchronous=FULL`` syncs the WAL at every commit, so a power cut loses no committed journal
write (with WAL, NORMAL syncs only at checkpoints and may lose the last commits — SQLite's documentation
says so). Its cost is measured in bench/BENCHMARKS.md (section 8).

A PostgreSQL connection is checked for life when it leaves the pool, so that the first statement on a
connection the server dropped (a restart, a failover, an administrator's ``pg_terminate_backend``) does not
fail — in a station that statement may be the journal write right after a key was changed. A round trip
(SQLAlchemy's ``pool_pre_ping``) on every checkout cost a quarter of a millisecond and a server wake-up per
claim; instead the connection is pinged only when it sat in the pool for more than
``PING_AFTER_IDLE_SECONDS`` or the server sent something while it was idle: a server that ends a connection
(shutdown, restart, terminate) first sends an error and closes the socket, which a zero-timeout ``poll`` sees.
A connection checked in a moment ago with nothing pending is used as it is. A server lost without a word (its
host gone, its address moved to a standby) is seen only by the ping, so for a second after a connection's last
good use it goes unnoticed: the kind of window pre-ping left between its ping and the statement, and shorter
than a failover takes to move an address.
"""

from __future__ import annotations

import select
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.pool import QueuePool
from sqlmodel import create_engine

from station.errors import StoreError
from station.sqlite_files import SQLITE_BUSY_TIMEOUT_MS, match_directory_owner, prepare_store_files, sqlite_file

SQLITE_SYNCHRONOUS = "FULL"
PING_AFTER_IDLE_SECONDS = 1.0
_LAST_USED = "station_last_used"


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
        return _postgres_engine(url)
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


def _postgres_engine(url: str) -> Engine:
    engine = create_engine(url, pool_size=5, max_overflow=10)

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def _used(_dbapi_conn: Any, record: Any) -> None:
        record.info[_LAST_USED] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        idle = time.monotonic() - record.info.get(_LAST_USED, 0.0)
        if idle <= PING_AFTER_IDLE_SECONDS and not _server_spoke(dbapi_conn):
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as e:
            if engine.dialect.is_disconnect(e, dbapi_conn, None):
                raise InvalidatePoolError(f"the server dropped a pooled connection: {e}") from e
            raise

    return engine


def _server_spoke(dbapi_conn: Any) -> bool:
    """Whether an idle psycopg connection is closed or has something to read (an error, then end of file)."""
    if dbapi_conn.closed or dbapi_conn.broken:
        return True
    poller = select.poll()
    poller.register(dbapi_conn.fileno(), select.POLLIN)
    return bool(poller.poll(0))


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"
