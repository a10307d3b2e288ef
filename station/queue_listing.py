"""``station queue list`` on a SQLite store through the standard library's sqlite3, without SQLAlchemy.

Opening the store the usual way (``station.store.open_store``) imports SQLAlchemy, SQLModel, pydantic and the
configuration models — about half a second before the first row — to run one SELECT. A technician's
``station queue list`` on a station's own SQLite store reads it here instead, in a few milliseconds, and
prints the same thing: the columns and the order are ``Queue.list`` and ``PersonView.to_dict``'s
(tests/integration/test_queue_listing.py holds the two paths to the same output).

Anything this path does not handle answers None and the command takes the usual path, which validates and
explains: PostgreSQL, a URL that is not an absolute SQLite file, a store that does not exist yet (it is created
there) or whose schema lacks a column (an older one: it is migrated there), or any SQLite error.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path

from station.config_file import store_url
from station.sqlite_files import SQLITE_BUSY_TIMEOUT_MS, match_directory_owner, prepare_store_files, sqlite_file

log = logging.getLogger(__name__)

# PersonView.to_dict's keys, in its order: `station queue list --json` prints them.
COLUMNS = ("upn", "display_name", "object_id", "state", "attempts", "failures", "priority", "source", "note",
           "preferred_language")
ORDER = "ORDER BY priority DESC, id"  # Queue.list's order


def sqlite_store(config: str | os.PathLike[str] | None, override: str | None) -> Path | None:
    """The SQLite database file the command would open (``--store``, else the configuration's store), or None
    when the store is not one this path reads: not SQLite, not an absolute file path, or not there yet."""
    url = override or store_url(config)
    if not url or not url.startswith("sqlite:////") or "?" in url or "%" in url:
        return None
    path = Path(sqlite_file(url))
    return path if path.is_file() else None


def list_people(db: Path, state: str | None) -> list[dict[str, object]] | None:
    """The people in queue order (only those in ``state`` when given), as ``PersonView.to_dict`` gives them;
    None when SQLite cannot answer (the usual path will, or will say why)."""
    prepare_store_files(str(db))
    try:
        conn = sqlite3.connect(f"{db.as_uri()}?mode=rw", uri=True, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
    except sqlite3.Error as e:
        log.debug("reading %s with sqlite3 failed (%s); opening the store", db, e)
        return None
    try:
        match_directory_owner(db)
        conn.execute("PRAGMA query_only = ON")
        where, values = ("WHERE state = ?", (state,)) if state else ("", ())
        cursor = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM person {where} {ORDER}", values)
        return [dict(zip(COLUMNS, row, strict=True)) for row in cursor]
    except sqlite3.Error as e:
        log.debug("reading %s with sqlite3 failed (%s); opening the store", db, e)
        return None
    finally:
        conn.close()
