"""Running a module of umockdev cases in a child pytest under ``umockdev-wrapper`` and reporting each case.

A ``UMockdev.Testbed`` only works in a process started under ``umockdev-wrapper`` (its preload library
redirects /sys, /dev, netlink uevents and ioctls), so a runner test module runs its case module once in
a child pytest under the wrapper and turns every case into one test of its own with the child's verdict
and output::

    CASES = Path(__file__).with_name("umockdev_some_cases.py")

    @pytest.fixture(scope="module")
    def child_verdicts(tmp_path_factory):
        return run_cases(CASES, tmp_path_factory.mktemp("umockdev"))

    @pytest.mark.parametrize("case", case_names(CASES))
    def test_x(case, child_verdicts):
        report(case, child_verdicts)

As root the child runs without CAP_DAC_OVERRIDE (``setpriv``), like the station's unprivileged
service user, so a hidraw node with mode 000 really is "permission denied".
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from realstack import require

REPO = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 240
SESSION = "<session>"

Verdicts = dict[str, tuple[str, str]]


def case_names(cases: Path) -> list[str]:
    """The top-level ``test_*`` functions of a case module, in file order."""
    tree = ast.parse(cases.read_text())
    return [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]


def umockdev_missing() -> str | None:
    """Why the cases cannot run under umockdev here, or None when they can."""
    if shutil.which("umockdev-wrapper") is None:
        return "umockdev-wrapper is not installed (Debian package umockdev)"
    try:
        import gi

        gi.require_version("UMockdev", "1.0")
    except (ImportError, ValueError) as exc:
        return f"UMockdev GObject introspection is missing (gir1.2-umockdev-1.0, PyGObject): {exc}"
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        return "setpriv (util-linux) is needed to run the cases without CAP_DAC_OVERRIDE"
    return None


def run_cases(cases: Path, workdir: Path, *, timeout: float = RUN_TIMEOUT) -> Verdicts:
    """Run every case of ``cases`` once under umockdev-wrapper; case name → (outcome, details).

    Fails the calling test under CI=true (skips it elsewhere) when umockdev is missing.
    """
    missing = umockdev_missing()
    require(missing is None, missing or "")
    junit = workdir / "junit.xml"
    command = [
        "umockdev-wrapper", sys.executable, "-m", "pytest", str(cases),
        "-p", "no:cacheprovider", "-q", "-o", "addopts=", f"--junitxml={junit}",
    ]  # fmt: skip
    if os.geteuid() == 0:
        command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *command]
    proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False)
    if not junit.exists():
        pytest.fail(f"the umockdev cases did not run (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    verdicts: Verdicts = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        outcome, details = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = child.tag
                details = f"{child.get('message', '')}\n{child.text or ''}"
        verdicts[str(case.get("name"))] = (outcome, details)
    verdicts[SESSION] = (str(proc.returncode), proc.stdout[-4000:] + proc.stderr[-4000:])
    return verdicts


def report(case: str, verdicts: Verdicts) -> None:
    """Pass, fail or skip (fail under CI=true) as the child's run of ``case`` did."""
    outcome, details = verdicts.get(case, ("missing", verdicts[SESSION][1]))
    require(outcome != "skipped", f"{case} skipped under umockdev-wrapper: {details.strip()}")
    assert outcome == "passed", f"{case}: {outcome}\n{details}"
