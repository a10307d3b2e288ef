"""README.md of this directory holds sections measured by tests; each section has a marked place.

``update_section(path, name, text)`` replaces what lies between ``<!-- name begin -->`` and
``<!-- name end -->`` and keeps everything else (the other sections); a section not there yet is appended.
``write_result(name, text)`` is what a test calls: it writes the section to ``build/reliability/NAME.md``
and leaves the tracked README alone; ``python tests/reliability/readme.py`` then copies every section found
there into README.md — an explicit step, run when a result is to be kept.
"""

from __future__ import annotations

import sys
from pathlib import Path

HEAD = """# Reliability

Each section of this file is written by `python tests/reliability/readme.py` from the results the test named
in it left under build/reliability/; do not edit it by hand.
"""
README = Path(__file__).resolve().parent / "README.md"
RESULTS = Path(__file__).resolve().parents[2] / "build" / "reliability"


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


def write_result(name: str, text: str) -> Path:
    """Keep a test's section under build/reliability/ (untracked); returns the file."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}.md"
    out.write_text(text.strip() + "\n")
    return out


def main() -> int:
    """Copy every section under build/reliability/ into README.md."""
    results = sorted(RESULTS.glob("*.md")) if RESULTS.is_dir() else []
    if not results:
        print(f"no results under {RESULTS}: run the reliability tests first", file=sys.stderr)
        return 1
    for result in results:
        update_section(README, result.stem, result.read_text())
        print(f"{README.name}: section {result.stem} from {result}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
