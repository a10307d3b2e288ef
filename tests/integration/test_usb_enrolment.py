"""A whole enrolment over the real USB path: runs umockdev_enrol_cases.py under umockdev-wrapper.

Virtual key on a umockdev hidraw port → pyudev → UsbWatcher → engine (fido2's Linux backend) →
Entra emulator; and a key pulled while waiting for a touch. How the child run works is in
umockdev_child.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from umockdev_child import Verdicts, case_names, report, run_cases

CASES = Path(__file__).with_name("umockdev_enrol_cases.py")


@pytest.fixture(scope="module")
def child_verdicts(tmp_path_factory: pytest.TempPathFactory) -> Verdicts:
    """Run every enrolment case once under umockdev-wrapper; case name → (outcome, details)."""
    return run_cases(CASES, tmp_path_factory.mktemp("umockdev-enrol"), timeout=120)


@pytest.mark.realstack
@pytest.mark.parametrize("case", case_names(CASES))
def test_usb_enrolment_on_umockdev(case: str, child_verdicts: Verdicts) -> None:
    report(case, child_verdicts)
