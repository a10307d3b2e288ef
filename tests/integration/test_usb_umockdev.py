"""The USB path on umockdev: runs umockdev_cases.py under umockdev-wrapper and reports each case here.

How the child run works (and why it is a child run) is in umockdev_child.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from umockdev_child import Verdicts, case_names, report, run_cases

CASES = Path(__file__).with_name("umockdev_cases.py")


@pytest.fixture(scope="module")
def child_verdicts(tmp_path_factory: pytest.TempPathFactory) -> Verdicts:
    """Run every case once under umockdev-wrapper; case name → (outcome, details)."""
    return run_cases(CASES, tmp_path_factory.mktemp("umockdev"))


@pytest.mark.realstack
@pytest.mark.parametrize("case", case_names(CASES))
def test_usb_path_on_umockdev(case: str, child_verdicts: Verdicts) -> None:
    report(case, child_verdicts)
