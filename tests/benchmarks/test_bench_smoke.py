"""Every benchmark of `make bench`, once at its smallest size (`python -m bench.run --smoke`): it still drives the
product through the path it measures (the daemon, the CLI, the emulator, SQLite and PostgreSQL) and produces its
table. Nothing is timed here and no figure is judged; a benchmark that no longer runs fails."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from bench.run import BENCHMARKS
from bench.size import Size


@pytest.mark.realstack
@pytest.mark.parametrize("name", list(BENCHMARKS))
def test_the_benchmark_runs_at_smoke_size(name: str, tmp_path: Path) -> None:
    module = importlib.import_module(BENCHMARKS[name])
    section = module.run(tmp_path, Size.SMOKE)
    assert section.name == name and section.title == module.TITLE
    table = [line for line in section.lines if line.startswith("|")]
    assert len(table) >= 3, f"{name} produced no table:\n" + "\n".join(section.lines)
    assert not [line for line in section.lines if re.search(r"\bnan\b|Traceback", line)]
