"""The HTML report in a real browser (Debian's chromium, headless): it renders — both charts and every section
are in the DOM chromium built, a hostile name is text and no element — with no console message at all (a
script, a blocked load or a CSP violation would log one), and a screenshot is taken. A page that does break
those rules is shown to log, so the check can fail."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from datetime import date, timedelta
from pathlib import Path

import pytest
from realstack import require
from rollout_store import HOSTILE_NAME, Rollout, fill

from station.cli import main
from station.store import open_store

pytestmark = pytest.mark.realstack

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--enable-logging=stderr", "--v=0"]


def chromium() -> str:
    found = shutil.which("chromium")
    require(found is not None, "chromium is not installed (apt-get install chromium; scripts/system-deps.sh --test)")
    assert found is not None
    return found


def browse(page: Path, *args: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="station-chromium-") as profile:
        return subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()],
                              capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def console(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def test_the_report_renders_in_chromium_without_a_console_message(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'station.db'}"
    store = open_store(url, "test")
    try:
        fill(store, Rollout(first_day=date.today() - timedelta(days=2)))
    finally:
        store.close()
    page = tmp_path / "report.html"
    assert main(["--store", url, "report", "--out", str(page)]) == 0

    dom = browse(page, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert console(dom.stderr) == [], console(dom.stderr)
    html = dom.stdout
    assert html.count("<svg") == 2 and html.count("<rect") >= 6 and html.count("<polyline") == 2
    for heading in ("People enrolled per day", "Progress against the rollout", "Time per key", "Keys by model",
                    "Failed enrolments by reason", "Keys refused at insertion", "People who failed",
                    "People still waiting"):
        assert heading in html, heading
    assert "<script" not in html and "<img" not in html, "a name became markup"
    assert "&lt;script&gt;" in html and "Kim &amp;" in html, f"{HOSTILE_NAME!r} is shown as text"

    shot = tmp_path / "report.png"
    taken = browse(page, f"--screenshot={shot}", "--window-size=1100,2400", "--hide-scrollbars")
    assert taken.returncode == 0, taken.stderr[-2000:]
    assert console(taken.stderr) == []
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def test_the_console_check_sees_a_page_that_breaks_the_rules(tmp_path: Path) -> None:
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'\">"
                   "<p>x</p><script>console.error('boom')</script>", encoding="utf-8")
    assert console(browse(bad, "--dump-dom").stderr), "a blocked script logs a console message"
