#!/usr/bin/env python3
"""Copy the compatibility matrix that tests/integration/test_compat_matrix.py wrote (build/compat-matrix.md)
into README.md, between the compat-matrix markers beside the reasons table. Run by ``make docs``."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TABLE = REPO / "build" / "compat-matrix.md"
README = REPO / "README.md"
START = "<!-- compat-matrix:start (make docs copies build/compat-matrix.md here) -->"
END = "<!-- compat-matrix:end -->"


def main() -> int:
    if not TABLE.exists():
        print(f"{TABLE} does not exist: run .venv/bin/pytest tests/integration/test_compat_matrix.py first",
              file=sys.stderr)
        return 1
    text = README.read_text(encoding="utf-8")
    if START not in text or END not in text:
        print(f"README.md lacks the markers {START} … {END}", file=sys.stderr)
        return 1
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{START}\n{TABLE.read_text(encoding='utf-8').strip()}\n{END}{tail}", encoding="utf-8")
    print(f"README.md: compatibility matrix updated from {TABLE.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
