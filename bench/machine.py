"""The machine a benchmark ran on (cores, CPU model, memory, Python, package versions) and how to start
the ``station`` command from this environment."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from pathlib import Path

PACKAGES = ("station", "fido2", "msal", "requests", "cryptography", "sqlalchemy", "sqlmodel", "psycopg",
            "pyscard", "pyudev", "textual")


def station_command() -> list[str]:
    """The ``station`` console script of this interpreter's environment."""
    script = Path(sys.executable).parent / "station"
    return [str(script)] if script.exists() else [sys.executable, "-m", "station.cli"]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return 0.0


def package_versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def postgres_version() -> str:
    try:
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", connect_timeout=3) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            return str(row[0]) if row else "unknown"
    except Exception:
        return "not reachable"


def describe() -> list[str]:
    """Markdown bullet lines describing this machine."""
    load = os.getloadavg()
    versions = ", ".join(f"{k} {v}" for k, v in package_versions().items())
    return [
        f"- CPU: {cpu_model()}, {os.cpu_count()} logical cores; {memory_gib():.1f} GiB RAM",
        f"- OS: {platform.system()} {platform.release()} ({platform.machine()})",
        f"- Python: {platform.python_implementation()} {platform.python_version()}",
        f"- Packages: {versions}",
        f"- PostgreSQL: {postgres_version()} on 127.0.0.1:5432; SQLite {sqlite_version()}",
        f"- Load average when this file was last written: {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1/5/15 min) — "
        "the machine is shared, so every figure is a median of repeated runs",
    ]


def sqlite_version() -> str:
    import sqlite3

    return sqlite3.sqlite_version
