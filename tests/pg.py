"""PostgreSQL for tests: a freshly created database per test on the local server (127.0.0.1:5432, trust auth).

``pg_url`` is a fixture yielding ``postgresql://postgres@127.0.0.1:5432/station_test_<random>``; the database
is dropped afterwards (``WITH (FORCE)``, so a killed station's connection cannot keep it alive). Test
databases commit without waiting for the WAL flush (``synchronous_commit = off``): the same transactions and
locks, minus an fsync per claim, which only a server crash could tell apart. When the
server does not answer, the fixture tries to start the local cluster under CI=true, then calls
``realstack.require``: the test fails under CI=true and is skipped elsewhere.
Use it from a test module with ``from pg import pg_url``; ``fresh_database()`` serves code that needs a
database outside a fixture (a hypothesis state machine).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict
from realstack import require

ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
_ADMIN = conninfo_to_dict(ADMIN_URL)
HOST = str(_ADMIN.get("host", "127.0.0.1"))
PORT = int(str(_ADMIN.get("port", 5432)))
START_TIMEOUT = 30.0

_unreachable: str | None = None
_checked = False


def _try_connect() -> str | None:
    try:
        with psycopg.connect(ADMIN_URL, connect_timeout=3, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as e:
        return str(e).strip() or type(e).__name__
    return None


def _start_local_cluster() -> None:
    """Start the Debian cluster(s) the way the machine's own start-up does; errors are left to the retry."""
    tool, conf = shutil.which("pg_ctlcluster"), Path("/etc/postgresql")
    if tool is None or not conf.is_dir():
        return
    for version in sorted(p.name for p in conf.iterdir()):
        subprocess.run([tool, "--skip-systemctl-redirect", version, "main", "start"],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=60, check=False)


def server_problem() -> str | None:
    """Why PostgreSQL cannot be used (None when it answers). Under CI=true a stopped local cluster is started."""
    global _unreachable, _checked
    if _checked:
        return _unreachable
    _unreachable = _try_connect()
    if _unreachable is not None and os.environ.get("CI") == "true":
        _start_local_cluster()
        deadline = time.monotonic() + START_TIMEOUT
        while _unreachable is not None and time.monotonic() < deadline:
            time.sleep(0.5)
            _unreachable = _try_connect()
    _checked = True
    return _unreachable


def database_url(name: str) -> str:
    return ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    """A new, empty database for the duration of the block; its URL."""
    problem = server_problem()
    require(problem is None, f"PostgreSQL on {HOST}:{PORT} is unreachable: {problem}")
    name = f"station_test_{secrets.token_hex(6)}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
        conn.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    try:
        yield database_url(name)
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url() -> Iterator[str]:
    """The URL of a freshly created PostgreSQL database, dropped after the test."""
    with fresh_database() as url:
        yield url
