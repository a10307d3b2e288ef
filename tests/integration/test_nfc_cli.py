"""`station emulate key --nfc` as an operator runs it: a separate process that puts a key into a vpcd reader."""

from __future__ import annotations

import signal
import subprocess
import sys
import uuid
from typing import TYPE_CHECKING

import pytest
from fido2.ctap2 import Ctap2
from fido2.pcsc import CtapPcscDevice
from smartcard.pcsc.PCSCReader import PCSCReader

if TYPE_CHECKING:
    from realstack import Pcscd

pytest_plugins = ["realstack"]
pytestmark = pytest.mark.realstack


def station(*args: str) -> list[str]:
    return [sys.executable, "-m", "station.cli", "emulate", "key", "--nfc", *args]


def get_info_aaguid(pcscd: Pcscd) -> bytes:
    device = CtapPcscDevice(PCSCReader(pcscd.reader()).createConnection(), pcscd.reader())
    try:
        return Ctap2(device).info.aaguid
    finally:
        device.close(release=True)


def test_emulated_key_serves_across_a_pcscd_restart_until_sigterm(running_pcscd: Pcscd) -> None:
    aaguid = uuid.uuid4()
    proc = subprocess.Popen(
        station("--vpcd-port", str(running_pcscd.vpcd_port()), "--profile", "fido20", "--aaguid", str(aaguid)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        running_pcscd.wait_for_card(timeout=10.0)
        assert get_info_aaguid(running_pcscd) == aaguid.bytes

        running_pcscd.restart()
        running_pcscd.wait_for_card(timeout=10.0)
        assert get_info_aaguid(running_pcscd) == aaguid.bytes, "the key is put back once pcscd returns"

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(5) == 0
        running_pcscd.wait_for_card(present=False, timeout=2.0)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_refuses_a_vpcd_host_that_is_not_this_machine() -> None:
    result = subprocess.run(station("--vpcd-host", "192.0.2.10"), capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert "loopback" in result.stderr
