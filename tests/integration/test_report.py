"""`station report` from a store with a rollout's history (SQLite, and a fleet's PostgreSQL): its counts are
the ones `station queue list` shows, its figures per day, station, reason and model are the store's, and no
PIN escrow ever appears in the HTML, JSON or CSV; names are text in the HTML, never markup."""

from __future__ import annotations

import csv
import io
import json
import statistics
from datetime import date, timedelta
from pathlib import Path

import pytest
from pg import pg_url  # noqa: F401  (fixture)
from rollout_store import HOSTILE_NAME, SECRET, Rollout, fill

from station.cli import main
from station.report.build import percentile
from station.store import open_store

STATES = ("queued", "claimed", "enrolled", "failed", "skipped")


def run(capsys: pytest.CaptureFixture[str], url: str, *args: str) -> str:
    capsys.readouterr()
    assert main(["--store", url, *args]) == 0
    return capsys.readouterr().out


def make(url: str) -> Rollout:
    plan = Rollout(first_day=date.today() - timedelta(days=2))
    store = open_store(url, "test")
    try:
        fill(store, plan)
    finally:
        store.close()
    return plan


def check_report_matches_the_queue(capsys: pytest.CaptureFixture[str], url: str) -> None:
    plan = make(url)
    report = json.loads(run(capsys, url, "report", "--format", "json"))
    for state in STATES:
        listed = json.loads(run(capsys, url, "queue", "list", "--state", state, "--json"))
        assert report["queue"][state] == len(listed), state
    assert report["enrolled"] == report["queue"]["enrolled"] == plan.enrolled
    assert report["since"] == plan.first_day.isoformat() and report["until"] == date.today().isoformat()
    assert len(report["days"]) == 3
    assert sum(sum(counts) for counts in report["per_day"].values()) == plan.enrolled
    assert report["per_day"]["kiosk-1"] == [3, 3, 3] and report["per_day"]["kiosk-2"] == [3, 3, 3]
    assert report["cumulative"] == [6, 12, 18]
    assert report["rollout"] == [plan.people - plan.skipped] * 3
    assert report["failures"][0] == {"reason": "touch_timeout", "attempts": plan.failed,
                                     "remedy": report["failures"][0]["remedy"]}
    assert "touched the key in time" in report["failures"][0]["remedy"]
    assert report["failures"][1]["reason"] == "graph_throttled" and report["failures"][1]["attempts"] == 2
    assert report["refusals"] == [{"reason": "pin_already_set", "keys": 2,
                                   "remedy": report["refusals"][0]["remedy"]}]
    for station, parity in (("kiosk-1", 0), ("kiosk-2", 1)):
        seconds = sorted(Rollout.seconds(i) for i in range(plan.enrolled) if i % 2 == parity)
        timing = next(t for t in report["timing"] if t["station"] == station)
        assert timing["keys"] == 9
        assert timing["median_seconds"] == pytest.approx(statistics.median(seconds), abs=0.1)
        assert timing["p95_seconds"] == pytest.approx(percentile(seconds, 0.95), abs=0.1)
    assert {m["model"]: m["keys"] for m in report["models"]} == {"YubiKey 5 Series": 9,
                                                                  "Google Titan Security Key v2": 9}
    assert len(report["waiting"]) == report["queue"]["queued"] + report["queue"]["claimed"]
    assert report["failed"][0]["display_name"] == HOSTILE_NAME
    assert {f["reason"] for f in report["failed"]} == {"touch_timeout"}

    only_today = json.loads(run(capsys, url, "report", "--format", "json", "--since", date.today().isoformat()))
    assert only_today["enrolled"] == 6 and only_today["cumulative"] == [18]

    for fmt in ("html", "json", "csv"):
        assert SECRET not in run(capsys, url, "report", "--format", fmt), fmt


def test_the_report_matches_the_queue_on_sqlite(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    check_report_matches_the_queue(capsys, f"sqlite:///{tmp_path / 'station.db'}")


@pytest.mark.realstack
def test_the_report_matches_the_queue_on_postgresql(capsys: pytest.CaptureFixture[str],
                                                    pg_url: str) -> None:  # noqa: F811
    check_report_matches_the_queue(capsys, pg_url)


def test_the_csv_has_a_line_per_person_and_no_formula(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'station.db'}"
    plan = make(url)
    lines = list(csv.DictReader(io.StringIO(run(capsys, url, "report", "--format", "csv"))))
    assert len(lines) == plan.people
    enrolled = [line for line in lines if line["state"] == "enrolled"]
    assert len(enrolled) == plan.enrolled and all(line["station"] and line["enrolled_on"] for line in enrolled)
    assert {line["display_name"] for line in lines if line["upn"] == "formula@contoso.example"} == {"'=HYPERLINK(1)"}
    failed = [line for line in lines if line["state"] == "failed"]
    assert {line["reason"] for line in failed} == {"touch_timeout"} and all(line["remedy"] for line in failed)


def test_the_html_file_is_written_private_and_escapes_names(capsys: pytest.CaptureFixture[str],
                                                            tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'station.db'}"
    make(url)
    out = tmp_path / "out" / "report.html"
    run(capsys, url, "report", "--out", str(out))
    page = out.read_text(encoding="utf-8")
    assert out.stat().st_mode & 0o777 == 0o600
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;console.error(&quot;x&quot;)&lt;/script&gt;" in page
    assert page.count("<svg") == 2 and "Content-Security-Policy" in page


def test_a_bad_range_is_one_line_that_says_what_to_give(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'station.db'}"
    assert main(["--store", url, "report", "--since", "2026-03-02", "--until", "2026-03-01"]) == 2
    err = capsys.readouterr().err
    assert "--since is after --until" in err and "on or before --until" in err
    with pytest.raises(SystemExit):
        main(["--store", url, "report", "--since", "March"])
    assert "expected YYYY-MM-DD" in capsys.readouterr().err
