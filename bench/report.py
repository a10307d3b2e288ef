"""BENCHMARKS.md: a header with the machine, then one section per benchmark between markers, so that
running one benchmark replaces its own section and keeps the others."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench import machine
from bench.size import Size

RESULTS = Path(__file__).with_name("BENCHMARKS.md")
#: Everything after this line in BENCHMARKS.md is written by hand (profiles, explanations) and kept as is.
NOTES_MARKER = "<!-- notes: written by hand, kept by bench.run -->"

INTRO = """# Station benchmarks

Written by `make bench` (`.venv/bin/python -m bench.run`); `python -m bench.run NAME …` runs some of
them (names: {names}), `--quick` runs shorter versions. Benchmarks are not tests: `make test` runs each
once at `--smoke` size (tests/benchmarks/test_bench_smoke.py; benchmark 10 in
tests/integration/test_bench_cli.py) to catch one that no longer runs, and times nothing;
no figure ever fails a build. Each section says the exact command, when it ran, and how.
The machine is shared and noisy: figures are medians over repeated runs (the spread of the repeats is
shown), and every ratio is taken between measurements made in the same run.
"""


@dataclass
class Section:
    name: str
    title: str
    command: str
    lines: list[str] = field(default_factory=list)

    def add(self, *lines: str) -> None:
        self.lines.extend(lines)

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        self.lines.append("| " + " | ".join(headers) + " |")
        self.lines.append("|" + "|".join("---" for _ in headers) + "|")
        for row in rows:
            self.lines.append("| " + " | ".join(str(c) for c in row) + " |")
        self.lines.append("")

    def render(self, size: Size) -> str:
        stamp = time.strftime("%Y-%m-%d %H:%M %Z")
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        head = [f"## {self.title}", "",
                f"Command: `{self.command}`{'' if size is Size.FULL else ' --' + size} — ran {stamp}, "
                f"load average at the end {load}.", ""]
        return "\n".join(head + self.lines).rstrip() + "\n"


def _marker(name: str, end: bool = False) -> str:
    return f"<!-- bench:{name} {'end' if end else 'begin'} -->"


def write(sections: Sequence[Section], order: Sequence[str], size: Size, path: Path = RESULTS) -> None:
    """Replace these sections in ``path`` (keeping the others and the notes), in ``order``; refresh the header."""
    old = path.read_text() if path.exists() else ""
    old, marker, notes = old.partition(NOTES_MARKER)
    kept: dict[str, str] = {}
    for name in order:
        m = re.search(re.escape(_marker(name)) + r"\n(.*?)" + re.escape(_marker(name, end=True)), old, re.S)
        if m:
            kept[name] = m.group(1)
    for s in sections:
        kept[s.name] = s.render(size)
    parts = [INTRO.format(names=", ".join(order)), "## Machine", "", *machine.describe(), ""]
    for name in order:
        if name in kept:
            parts += [_marker(name), kept[name].rstrip() + "\n" + _marker(name, end=True), ""]
    path.write_text("\n".join(parts) + (marker + notes if marker else ""))
