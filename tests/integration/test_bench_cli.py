"""Benchmark 10 (bench/cli_start.py: the command line's start-up and the idle daemon's RSS) at smoke size: one
run per command against a daemon with 2,000 queued people, so that `make bench` keeps working. It asserts what
ran and what each command answered, never a time or a size: those are the benchmark's to report."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from realstack import Pcscd

pytest_plugins = ["realstack"]
pytestmark = pytest.mark.realstack

ROOT = Path(__file__).resolve().parents[2]


def test_the_command_line_benchmark_runs_at_smoke_size(tmp_path: Path, running_pcscd: Pcscd,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT))
    from bench import cli_start, report
    from bench.size import Size

    section = cli_start.section(tmp_path, repeats=1, people=2_000, pcsc_socket=running_pcscd.socket_path)
    out = tmp_path / "BENCHMARKS.md"
    report.write([section], ["cli"], Size.SMOKE, out)
    text = out.read_text()
    rows = {cells[1] + (f" ({cells[2]})" if cells[2] else ""): cells
            for line in text.splitlines() if line.startswith("| `")
            for cells in [[c.strip() for c in line.split("|")]]}
    assert set(rows) == {"`python -c pass` (the floor)", "`station --help`",
                         "`station status --config $TMP/station.toml` (no daemon)",
                         "`station queue list --config $TMP/station.toml --store sqlite:///$TMP/small.db` "
                         "(1,000 people)",
                         "`station status --config $TMP/station.toml` (daemon, 2,000 people)"}
    exit_codes = {name: cells[-3] for name, cells in rows.items()}
    assert exit_codes["`station status --config $TMP/station.toml` (no daemon)"] == "1"
    assert exit_codes["`station status --config $TMP/station.toml` (daemon, 2,000 people)"] == "0"
    assert sum(code == "0" for code in exit_codes.values()) == 4
    assert all(re.fullmatch(r"\d+ ms", cells[3]) and int(cells[7]) > 0 for cells in rows.values())
    assert re.search(r"Idle `station run --store STORE` \(store of 2,000 people, USB and NFC watchers\): \d+ MB RSS",
                     text)
