"""A key's state file: it remembers PIN, retries, credentials and counters across instances."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from fido2.ctap import CtapError
from fido2.ctap2 import ClientPin, CredentialManagement, Ctap2

from station_emulator.key import VirtualKey, attestation_root_pem

RP = "login.microsoft.com"
ES256: list[Mapping[str, Any]] = [{"type": "public-key", "alg": -7}]
P = ClientPin.PERMISSION


def test_key_remembers_across_instances(tmp_path: Path, ctap: Callable[[VirtualKey], Ctap2]) -> None:
    path = tmp_path / "keys" / "key.json"
    first = VirtualKey(state_path=path)
    session = ctap(first)
    made = session.make_credential(os.urandom(32), {"id": RP}, {"id": b"user-1", "name": "ada"}, ES256,
                                   options={"rk": True})
    ClientPin(ctap(first)).set_pin("246810")
    with pytest.raises(CtapError):
        ClientPin(ctap(first)).get_pin_token("000000", P.GET_ASSERTION, RP)

    second = VirtualKey(state_path=path)
    assert second.serial == first.serial
    session = ctap(second)
    client = ClientPin(session)
    assert session.info.options["clientPin"] is True
    assert client.get_pin_retries()[0] == 7
    token = client.get_pin_token("246810", P.CREDENTIAL_MGMT)
    creds = CredentialManagement(session, client.protocol, token).enumerate_creds(made.auth_data.rp_id_hash)
    assert [c[6]["id"] for c in creds] == [b"user-1"]

    cred = made.auth_data.credential_data
    assert cred is not None
    cdh = os.urandom(32)
    token = client.get_pin_token("246810", P.GET_ASSERTION, RP)
    assertion = session.get_assertion(RP, cdh, [{"type": "public-key", "id": cred.credential_id}],
                                      pin_uv_param=client.protocol.authenticate(token, cdh),
                                      pin_uv_protocol=client.protocol.VERSION)
    assertion.verify(cdh, cred.public_key)
    assert assertion.auth_data.counter > made.auth_data.counter


def test_state_file_is_private_and_written_atomically(tmp_path: Path, ctap: Callable[[VirtualKey], Ctap2]) -> None:
    path = tmp_path / "key.json"
    key = VirtualKey(state_path=path)
    ClientPin(ctap(key)).set_pin("246810")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["key.json"]
    assert "246810" not in path.read_text()


def test_attestation_root_is_the_same_in_every_process() -> None:
    code = ("import sys; from station_emulator.key import attestation_root_pem; "
            "sys.stdout.buffer.write(attestation_root_pem())")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, timeout=60).stdout
    assert other == attestation_root_pem()
    assert other.startswith(b"-----BEGIN CERTIFICATE-----")
