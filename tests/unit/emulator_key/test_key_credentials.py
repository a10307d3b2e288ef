"""makeCredential, getAssertion and credentialManagement as python-fido2's Ctap2 and CredentialManagement see them."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from fido2.cose import CoseKey
from fido2.ctap import CtapError
from fido2.ctap2 import ClientPin, CredentialManagement, Ctap2
from fido2.utils import sha256
from fido2.webauthn import PublicKeyCredentialDescriptor, PublicKeyCredentialType

from station_emulator.key import VirtualKey

ERR = CtapError.ERR
P = ClientPin.PERMISSION
RP = "login.microsoft.com"
ES256: list[Mapping[str, Any]] = [{"type": "public-key", "alg": -7}]
PIN = "246810"


def user(n: int) -> dict[str, object]:
    return {"id": f"user-{n}".encode(), "name": f"user{n}@example.com", "displayName": f"User {n}"}


class PinnedSession:
    """A Ctap2 session on a key with a PIN, making tokens as needed."""

    def __init__(self, ctap: Callable[[VirtualKey], Ctap2], key: VirtualKey) -> None:
        ClientPin(ctap(key)).set_pin(PIN)
        self.ctap = ctap(key)
        self.client = ClientPin(self.ctap)

    def make(self, rp_id: str = RP, n: int = 1, **kw: object) -> object:
        token = self.client.get_pin_token(PIN, P.MAKE_CREDENTIAL, rp_id)
        cdh = os.urandom(32)
        return self.ctap.make_credential(
            cdh, {"id": rp_id, "name": rp_id}, user(n), ES256, options={"rk": True},
            pin_uv_param=self.client.protocol.authenticate(token, cdh),
            pin_uv_protocol=self.client.protocol.VERSION, **kw,  # type: ignore[arg-type]
        )

    def credman(self) -> CredentialManagement:
        token = self.client.get_pin_token(PIN, P.CREDENTIAL_MGMT)
        return CredentialManagement(self.ctap, self.client.protocol, token)


def test_enumerate_and_delete_resident_credentials(ctap: Callable[[VirtualKey], Ctap2]) -> None:
    key = VirtualKey(capacity=10)
    session = PinnedSession(ctap, key)
    made = [session.make(RP, 1), session.make(RP, 2), session.make("example.org", 3)]
    cm = session.credman()
    assert cm.get_metadata() == {1: 3, 2: 7}
    rps = cm.enumerate_rps()
    assert sorted(rp[3]["id"] for rp in rps) == ["example.org", RP]
    creds = cm.enumerate_creds(sha256(RP.encode()))
    assert sorted(c[6]["id"] for c in creds) == [b"user-1", b"user-2"]
    first_id = made[0].auth_data.credential_data.credential_id  # type: ignore[attr-defined]
    listed = next(c for c in creds if c[7]["id"] == first_id)
    assert CoseKey(listed[8]) == made[0].auth_data.credential_data.public_key  # type: ignore[attr-defined]

    cm.delete_cred(PublicKeyCredentialDescriptor(type=PublicKeyCredentialType.PUBLIC_KEY, id=first_id))
    cm = session.credman()
    assert [c[6]["id"] for c in cm.enumerate_creds(sha256(RP.encode()))] == [b"user-2"]
    assert cm.get_metadata() == {1: 2, 2: 8}
    with pytest.raises(CtapError) as e:
        cm.delete_cred(PublicKeyCredentialDescriptor(type=PublicKeyCredentialType.PUBLIC_KEY, id=first_id))
    assert e.value.code == ERR.NO_CREDENTIALS


def test_credential_management_needs_its_permission(ctap: Callable[[VirtualKey], Ctap2]) -> None:
    key = VirtualKey()
    session = PinnedSession(ctap, key)
    token = session.client.get_pin_token(PIN, P.GET_ASSERTION, RP)
    with pytest.raises(CtapError) as e:
        CredentialManagement(session.ctap, session.client.protocol, token).get_metadata()
    assert e.value.code == ERR.PIN_AUTH_INVALID


def test_key_store_full(ctap: Callable[[VirtualKey], Ctap2]) -> None:
    key = VirtualKey(capacity=2)
    session = PinnedSession(ctap, key)
    session.make(RP, 1)
    session.make(RP, 2)
    assert ctap(key).info.remaining_disc_creds == 0
    with pytest.raises(CtapError) as e:
        session.make(RP, 3)
    assert e.value.code == ERR.KEY_STORE_FULL
    session.make(RP, 2)
    assert len(key.state.residents) == 2


def test_exclude_list_refuses_a_second_credential(ctap: Callable[[VirtualKey], Ctap2]) -> None:
    key = VirtualKey()
    session = PinnedSession(ctap, key)
    first = session.make(RP, 1)
    descriptor = {"type": "public-key", "id": first.auth_data.credential_data.credential_id}  # type: ignore[attr-defined]
    with pytest.raises(CtapError) as e:
        session.make(RP, 1, exclude_list=[descriptor])
    assert e.value.code == ERR.CREDENTIAL_EXCLUDED
    session.make("other.example", 1, exclude_list=[descriptor])


def test_assertion_proves_the_credential_and_counts_signatures(ctap: Callable[[VirtualKey], Ctap2]) -> None:
    key = VirtualKey()
    session = ctap(key)
    made = session.make_credential(os.urandom(32), {"id": RP}, user(1), ES256)
    cred = made.auth_data.credential_data
    assert cred is not None
    counters = []
    for _ in range(2):
        cdh = os.urandom(32)
        assertion = session.get_assertion(RP, cdh, [{"type": "public-key", "id": cred.credential_id}])
        assertion.verify(cdh, cred.public_key)
        counters.append(assertion.auth_data.counter)
    assert made.auth_data.counter < counters[0] < counters[1]
    with pytest.raises(CtapError) as e:
        session.get_assertion("other.example", os.urandom(32), [{"type": "public-key", "id": cred.credential_id}])
    assert e.value.code == ERR.NO_CREDENTIALS


def test_discoverable_assertions_come_newest_first_with_next(ctap: Callable[[VirtualKey], Ctap2]) -> None:
    key = VirtualKey()
    session = ctap(key)
    for n in (1, 2):
        session.make_credential(os.urandom(32), {"id": RP}, user(n), ES256, options={"rk": True})
    first = session.get_assertion(RP, os.urandom(32))
    assert first.number_of_credentials == 2
    second = session.get_next_assertion()
    assert [first.user["id"], second.user["id"]] == [b"user-2", b"user-1"]  # type: ignore[index]
    with pytest.raises(CtapError) as e:
        session.get_next_assertion()
    assert e.value.code == ERR.NOT_ALLOWED


def test_cred_protect_required_hides_credential_without_uv(ctap: Callable[[VirtualKey], Ctap2]) -> None:
    key = VirtualKey()
    session = ctap(key)
    made = session.make_credential(os.urandom(32), {"id": RP}, user(1), ES256, options={"rk": True},
                                   extensions={"credProtect": 3})
    assert made.auth_data.extensions == {"credProtect": 3}
    cred_id = made.auth_data.credential_data.credential_id  # type: ignore[union-attr]
    allow_lists: list[list[Mapping[str, Any]] | None] = [None, [{"type": "public-key", "id": cred_id}]]
    for allow in allow_lists:
        with pytest.raises(CtapError) as e:
            session.get_assertion(RP, os.urandom(32), allow)
        assert e.value.code == ERR.NO_CREDENTIALS


def test_eddsa_when_preferred(ctap: Callable[[VirtualKey], Ctap2]) -> None:
    session = ctap(VirtualKey())
    made = session.make_credential(os.urandom(32), {"id": RP}, user(1), [{"type": "public-key", "alg": -8}])
    assert made.auth_data.credential_data.public_key[3] == -8  # type: ignore[union-attr]
    with pytest.raises(CtapError) as e:
        session.make_credential(os.urandom(32), {"id": RP}, user(1), [{"type": "public-key", "alg": -257}])
    assert e.value.code == ERR.UNSUPPORTED_ALGORITHM
