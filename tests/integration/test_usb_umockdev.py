"""The USB path on umockdev: runs umockdev_cases.py under umockdev-wrapper and reports each case here.

A ``UMockdev.Testbed`` only works in a process started under ``umockdev-wrapper`` (its preload library
redirects /sys, /dev, netlink uevents and ioctls), so the cases run in one child pytest under the
wrapper; every case becomes one test here with the child's verdict and output.

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

CASES = Path(__file__).with_name("umockdev_cases.py")
REPO = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 240


def _case_names() -> list[str]:
    tree = ast.parse(CASES.read_text())
    return [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]


def _umockdev_missing() -> str | None:
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


@pytest.fixture(scope="module")
def child_verdicts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, str]]:
    """Run every case once under umockdev-wrapper; case name → (outcome, details)."""
    missing = _umockdev_missing()
    require(missing is None, missing or "")
    junit = tmp_path_factory.mktemp("umockdev") / "junit.xml"
    command = [
        "umockdev-wrapper", sys.executable, "-m", "pytest", str(CASES),
        "-p", "no:cacheprovider", "-q", "-o", "addopts=", f"--junitxml={junit}",
    ]  # fmt: skip
    if os.geteuid() == 0:
        command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *command]
    proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False)
    if not junit.exists():
        pytest.fail(f"the umockdev cases did not run (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    verdicts: dict[str, tuple[str, str]] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        outcome, details = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = child.tag
                details = f"{child.get('message', '')}\n{child.text or ''}"
        verdicts[str(case.get("name"))] = (outcome, details)
    verdicts["<session>"] = (str(proc.returncode), proc.stdout[-4000:] + proc.stderr[-4000:])
    return verdicts


@pytest.mark.realstack
@pytest.mark.parametrize("case", _case_names())
def test_usb_path_on_umockdev(case: str, child_verdicts: dict[str, tuple[str, str]]) -> None:
    outcome, details = child_verdicts.get(case, ("missing", child_verdicts["<session>"][1]))
    require(outcome != "skipped", f"{case} skipped under umockdev-wrapper: {details.strip()}")
    assert outcome == "passed", f"{case}: {outcome}\n{details}"
