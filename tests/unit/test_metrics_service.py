"""The node_exporter textfile: written whole through a rename, readable by another user whatever the umask,
refreshed at most every few seconds, and a directory it cannot write is one problem line, never a crash."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from station.events import EventBus
from station.metrics.service import MetricsService
from station.metrics.settings import MetricsSection


def service(textfile: Path) -> MetricsService:
    return MetricsService(MetricsSection(textfile=str(textfile)), "kiosk-1", EventBus())


def test_the_textfile_is_replaced_whole_and_world_readable_under_a_strict_umask(tmp_path: Path) -> None:
    target = tmp_path / "station.prom"
    target.write_text("old\n")
    metrics = service(target)
    previous = os.umask(0o077)
    try:
        metrics.refresh()
    finally:
        os.umask(previous)
    text = target.read_text()
    assert text.startswith("# HELP") and "old" not in text and 'station_info{station_id="kiosk-1"' in text
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["station.prom"]

    metrics.metrics.heartbeat_written(1234.0)
    metrics.refresh()
    assert "station_last_heartbeat_timestamp_seconds 1234.0" not in target.read_text(), "not before 5 s"
    metrics.refresh(force=True)
    assert "station_last_heartbeat_timestamp_seconds 1234.0" in target.read_text()


def test_a_directory_it_cannot_write_is_one_problem_line(tmp_path: Path) -> None:
    metrics = service(tmp_path / "missing" / "station.prom")
    metrics.refresh()
    metrics.refresh(force=True)
    assert len(metrics.problems) == 1
    assert "cannot write" in metrics.problems[0] and "ReadWritePaths=" in metrics.problems[0]
    metrics.stop()
