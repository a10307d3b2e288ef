"""The engine depends on ports, not on the database, HTTP, UI or device-discovery libraries."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = ("msal", "requests", "sqlmodel", "sqlalchemy", "textual", "pyudev", "smartcard")


def test_importing_the_engine_pulls_in_no_adapter_library() -> None:
    code = ("import sys, station.enroll, station.enroll.engine; "
            f"print(','.join(m for m in {FORBIDDEN!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
