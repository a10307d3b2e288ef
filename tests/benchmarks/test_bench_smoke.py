"""Every benchmark of `make bench`, once at its smallest size: `python -m bench.run --smoke NAME` in a process of
its own, as `make bench` runs them. It still drives the product through the path it measures (the daemon, the
CLI, the emulator, pcscd, SQLite and PostgreSQL) and prints its table. Nothing is timed here and no figure is
judged; a benchmark that no longer runs fails, and a smoke run writes nothing to bench/BENCHMARKS.md.
Benchmark 10 (cli) has a closer smoke of its own: tests/integration/test_bench_cli.py."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from conftest import ROOT

from bench.report import RESULTS
from bench.run import BENCHMARKS


@pytest.mark.realstack
@pytest.mark.parametrize("name", [name for name in BENCHMARKS if name != "cli"])
def test_the_benchmark_runs_at_smoke_size(name: str) -> None:
    before = RESULTS.read_bytes()
    done = subprocess.run([sys.executable, "-m", "bench.run", "--smoke", name], cwd=ROOT, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    table = [line for line in done.stdout.splitlines() if line.startswith("|")]
    assert len(table) >= 3, f"{name} printed no table:\n{done.stdout}"
    assert not [line for line in done.stdout.splitlines() if re.search(r"\bnan\b", line)]
    assert RESULTS.read_bytes() == before
