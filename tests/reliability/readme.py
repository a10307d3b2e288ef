"""README.md of this directory is written by the tests that measure; each owns one marked section.

``update_section(path, name, text)`` replaces what lies between ``<!-- name begin -->`` and
``<!-- name end -->`` and keeps everything else (the other tests' sections); a section not there yet is
appended.
"""

from __future__ import annotations

from pathlib import Path

HEAD = """# Reliability

Each section of this file is written by the test named in it, on every full run; do not edit it by hand.
"""


def update_section(path: Path, name: str, text: str) -> None:
    begin, end = f"<!-- {name} begin -->", f"<!-- {name} end -->"
    block = f"{begin}\n{text.strip()}\n{end}"
    current = path.read_text() if path.exists() else HEAD
    if begin in current and end in current:
        before, rest = current.split(begin, 1)
        after = rest.split(end, 1)[1]
        updated = before + block + after
    else:
        updated = current.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(updated)
