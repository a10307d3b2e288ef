"""One daemon per station id: an exclusive lock the daemon takes before it touches the store.

SQLite: ``flock`` on a lock file beside the database, one per station id
(``/var/lib/station/station.db.kiosk-1.lock``); the holder writes its pid and host into it, so a second
daemon can say who runs. PostgreSQL: a session advisory lock keyed by the station id
(``pg_try_advisory_lock(STATION_LOCK_SPACE, hashtext(id))``, a key space apart from the migrations' lock), held
on a connection of its own for the daemon's lifetime. The kernel, or the server when the connection ends,
releases either lock when the process dies — a crashed station's id is free again at once.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
from pathlib import Path
from typing import Final
from urllib.parse import quote

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from station.config import redact_url
from station.errors import Reason, StationError, StoreError, StoreNotWritableError
from station.files import private_dir
from station.store.engine import normalise_url
from station.store.health import sqlite_path

# The first key of the two-key advisory lock form; the second is hashtext(station id).
STATION_LOCK_SPACE: Final = 0x5354


class StationRunningError(StationError):
    """Another daemon with this station id already serves this store."""

    reason = Reason.INVALID_STATE
    remedy = "Stop the other daemon (systemctl stop station there), or give this one its own station.id."


class StationLock:
    """A held lock; ``release`` gives it back (also done by the kernel or the server when the process dies)."""

    def __init__(self, fd: int | None = None, conn: Connection | None = None) -> None:
        self._fd = fd
        self._conn = conn

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._conn is not None:
            engine = self._conn.engine
            with contextlib.suppress(SQLAlchemyError):
                self._conn.close()
            engine.dispose()
            self._conn = None


def lock_file(db: Path, station_id: str) -> Path:
    return db.with_name(f"{db.name}.{quote(station_id, safe='')}.lock")


def acquire(url: str, station_id: str) -> StationLock:
    """Take the station's lock on the store at ``url``; StationRunningError when another daemon holds it."""
    db = sqlite_path(url)
    if db is not None:
        return _sqlite_lock(db, station_id)
    if normalise_url(url).startswith("postgresql"):
        return _postgres_lock(url, station_id)
    return StationLock()


def _sqlite_lock(db: Path, station_id: str) -> StationLock:
    path = lock_file(db, station_id)
    try:
        private_dir(path.parent)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
            raise StoreNotWritableError(f"store not writable: {e.strerror} ({path})") from None
        raise StoreError(f"cannot open the station lock {path}: {e.strerror}",
                         remedy="Set STATION_STATE_DIR or store.url to a writable place.") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
        os.close(fd)
        raise StationRunningError(f"station {station_id} is already running on this store ({holder} holds "
                                  f"{path})") from None
    with contextlib.suppress(OSError):  # who holds it, for a second daemon's message; a full disk leaves it out
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
    return StationLock(fd=fd)


def _postgres_lock(url: str, station_id: str) -> StationLock:
    engine = create_engine(normalise_url(url), poolclass=NullPool)
    try:
        conn = engine.connect()
        got = conn.execute(text("SELECT pg_try_advisory_lock(:space, hashtext(:id))"),
                           {"space": STATION_LOCK_SPACE, "id": station_id}).scalar()
        conn.commit()
    except SQLAlchemyError as e:
        engine.dispose()
        cause = getattr(e, "orig", None) or e
        raise StoreError(f"cannot open the store {redact_url(url)}: {cause}") from None
    if not got:
        conn.close()
        engine.dispose()
        raise StationRunningError(f"station {station_id} is already running on this store (another daemon holds "
                                  f"its lock on {redact_url(url)})")
    return StationLock(conn=conn)
