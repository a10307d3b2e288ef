"""A SQLite store's files on disk: made private before SQLite opens them, and left to the directory's owner.

Without SQLAlchemy, so that ``station.store.engine`` and the read path of ``station queue list``
(``station.queue_listing``, the standard library's sqlite3 alone) prepare a store's files the same way.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from station.errors import StationError, StoreError
from station.files import create_private_file, private_dir, restrict_to_owner

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000


def sqlite_file(url: str) -> str:
    """The database file a ``sqlite://`` URL names ("" or ":memory:" for an in-memory database)."""
    return url.split("///", 1)[1] if "///" in url else ""


def prepare_store_files(path: str) -> None:
    """Make the database ``path`` 0600 (its directory 0700) before SQLite opens it: SQLite gives the -wal and
    -shm files the database's mode, so none of the three is readable by others whatever the umask."""
    try:
        private_dir(Path(path).parent)
        create_private_file(path)
        for f in (path, f"{path}-wal", f"{path}-shm"):
            if (was := restrict_to_owner(f)) is not None:
                log.warning("%s was mode %04o, readable by others; it is 0600 now", f, was)
    except (OSError, StationError) as e:
        why = e.strerror if isinstance(e, OSError) else e.message
        raise StoreError(f"cannot create the store {path}: {why}",
                         remedy="Set STATION_STATE_DIR or store.url to a writable place.") from None


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
