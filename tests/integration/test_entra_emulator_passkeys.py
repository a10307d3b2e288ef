"""Passkey registration against the Entra emulator with credentials made by the virtual security key.

The key speaks CTAP2 through python-fido2's CtapHidDevice (in-process CTAPHID face); the ceremony is the
low-level one Station uses: creation options → CollectedClientData → makeCredential with a PIN token →
AttestationObject → POST fido2Methods over real HTTPS with a real msal token.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import msal
import pytest
import requests
from fido2.ctap2 import Ctap2
from fido2.ctap2.pin import ClientPin
from fido2.utils import websafe_decode, websafe_encode
from fido2.webauthn import AttestationObject, CollectedClientData

from station_emulator.entra import EntraEmulator
from station_emulator.entra.certs import make_client_certificate
from station_emulator.entra.codec import decode_any, standard_encode, url_token_encode
from station_emulator.key import VirtualKey
from station_emulator.key.ctaphid import open_virtual_device
from station_emulator.key.profiles import PROFILES

PIN = "271828"
ORIGIN = "https://login.microsoft.com"
POLICY = "/beta/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/fido2"
ZOE, JOSE = "zoe.angstrom@contoso.example", "jose.muller@contoso.example"


class Graph:
    def __init__(self, emu: EntraEmulator):
        self.emu = emu
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.verify = emu.info.ca_file
        app = msal.ConfidentialClientApplication(
            emu.info.client_id, client_credential=emu.info.client_secret, authority=emu.info.authority,
            instance_discovery=False, http_client=self.session)
        self.token = app.acquire_token_for_client(scopes=["https://graph.microsoft.com/.default"])["access_token"]

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, f"{self.emu.info.graph_url}{path}", timeout=30,
                                    headers={"Authorization": f"Bearer {self.token}"}, **kwargs)

    def creation_options(self, user: str, suffix: str = "creationOptions", version: str = "v1.0") -> dict[str, Any]:
        response = self.call("GET", f"/{version}/users/{user}/authentication/fido2Methods/{suffix}")
        assert response.status_code == 200, response.text
        return response.json()

    def register(self, user: str, body: dict[str, Any]) -> requests.Response:
        return self.call("POST", f"/v1.0/users/{user}/authentication/fido2Methods", json=body)


@dataclass
class Ceremony:
    credential_id: bytes
    client_data: CollectedClientData
    attestation_object: AttestationObject

    def body(self, **credential_extra: Any) -> dict[str, Any]:
        return {"displayName": "Virtual key 2026-11-29", "publicKeyCredential": {
            "id": websafe_encode(self.credential_id),
            "response": {"clientDataJSON": websafe_encode(bytes(self.client_data)),
                         "attestationObject": websafe_encode(bytes(self.attestation_object))},
            "clientExtensionResults": {},
            **credential_extra,
        }}


def make_credential(key: VirtualKey, options: dict[str, Any], *, origin: str = ORIGIN,
                    challenge: bytes | None = None, verify_user: bool = True) -> Ceremony:
    """What Station does with creation options: the key makes a resident credential, UV through a PIN token."""
    public_key = options["publicKey"]
    client_data = CollectedClientData.create(
        "webauthn.create", challenge if challenge is not None else websafe_decode(public_key["challenge"]), origin)
    device = open_virtual_device(key)
    try:
        ctap = Ctap2(device)
        pin_param: dict[str, Any] = {}
        if verify_user:
            client_pin = ClientPin(ctap)
            if not key.state.pin_set:
                client_pin.set_pin(PIN)
            token = client_pin.get_pin_token(PIN, ClientPin.PERMISSION.MAKE_CREDENTIAL, public_key["rp"]["id"])
            pin_param = {"pin_uv_param": client_pin.protocol.authenticate(token, client_data.hash),
                         "pin_uv_protocol": client_pin.protocol.VERSION}
        user = public_key["user"]
        response = ctap.make_credential(
            client_data.hash, public_key["rp"],
            {"id": websafe_decode(user["id"]), "name": user["name"], "displayName": user["displayName"]},
            public_key["pubKeyCredParams"],
            exclude_list=[{"type": "public-key", "id": decode_any(c["id"])} for c in public_key["excludeCredentials"]],
            extensions={"credProtect": 1, "hmac-secret": True}, options={"rk": verify_user}, **pin_param,
        )
    finally:
        device.close()
    attestation = AttestationObject.create(response.fmt, response.auth_data, response.att_stmt)
    assert response.auth_data.credential_data is not None
    return Ceremony(response.auth_data.credential_data.credential_id, client_data, attestation)


@pytest.fixture(scope="module")
def emu() -> Iterator[EntraEmulator]:
    with EntraEmulator(users=20, seed=4) as emulator:
        yield emulator


@pytest.fixture
def graph(emu: EntraEmulator) -> Iterator[Graph]:
    emu.faults.clear()
    yield Graph(emu)
    emu.faults.clear()


@pytest.fixture
def key() -> VirtualKey:
    return VirtualKey("fido21")


def rejection(response: requests.Response) -> str:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalidRequest"
    assert error["innerError"]["request-id"]
    return str(error["message"])


# accepted


def test_virtual_key_registration_is_accepted_listed_and_deleted(graph: Graph, key: VirtualKey) -> None:
    ceremony = make_credential(key, graph.creation_options(ZOE))
    created = graph.register(ZOE, ceremony.body())
    assert created.status_code == 201, created.text
    method = created.json()
    assert method["id"] == url_token_encode(ceremony.credential_id)
    assert method["aaGuid"] == str(key.aaguid)
    assert method["model"] == PROFILES["fido21"].product_name
    assert method["attestationLevel"] == "attested"
    assert method["attestationCertificates"] and method["displayName"] == "Virtual key 2026-11-29"

    listed = graph.call("GET", f"/v1.0/users/{ZOE}/authentication/fido2Methods").json()["value"]
    assert [m["id"] for m in listed] == [method["id"]]
    assert graph.call("GET", f"/beta/users/{ZOE}/authentication/fido2Methods/{method['id']}").json()["aaGuid"] \
        == method["aaGuid"]
    assert graph.call("DELETE", f"/v1.0/users/{ZOE}/authentication/fido2Methods/{method['id']}").status_code == 204
    assert graph.call("GET", f"/v1.0/users/{ZOE}/authentication/fido2Methods").json()["value"] == []


def test_exclude_credentials_name_the_users_keys_in_mixed_encodings(graph: Graph) -> None:
    first, second = VirtualKey("fido21"), VirtualKey("fido21")
    ids = []
    for k in (first, second):
        ceremony = make_credential(k, graph.creation_options(JOSE))
        assert graph.register(JOSE, ceremony.body()).status_code == 201
        ids.append(ceremony.credential_id)
    public_key = graph.creation_options(JOSE)["publicKey"]
    assert [c["id"] for c in public_key["excludeCredentials"]] == [url_token_encode(ids[0]), standard_encode(ids[1])]
    assert public_key["rp"] == {"id": "login.microsoft.com", "name": "Microsoft"}
    assert public_key["user"]["name"] == JOSE
    assert public_key["authenticatorSelection"]["userVerification"] == "required"


# creation options


def test_creation_options_timeouts_and_the_405_query_form() -> None:
    now = [1_900_000_000.0]
    with EntraEmulator(users=3, seed=2, clock=lambda: now[0]) as emulator:
        graph = Graph(emulator)
        user = next(iter(emulator.tenant.users.values()))["id"]

        def expiry(options: dict[str, Any]) -> float:
            stamp = datetime.datetime.strptime(options["challengeTimeoutDateTime"], "%Y-%m-%dT%H:%M:%SZ")
            return stamp.replace(tzinfo=datetime.UTC).timestamp() - now[0]

        assert expiry(graph.creation_options(user)) == 300
        assert expiry(graph.creation_options(user, "creationOptions(challengeTimeoutInMinutes=10)", "beta")) == 600
        query_form = graph.call("GET", f"/beta/users/{user}/authentication/fido2Methods/creationOptions"
                                       "?challengeTimeoutInMinutes=10")
        assert query_form.status_code == 405
        assert query_form.json()["error"]["code"] == "methodNotAllowed"
        too_short = graph.call("GET", f"/beta/users/{user}/authentication/fido2Methods/"
                                      "creationOptions(challengeTimeoutInMinutes=2)")
        assert too_short.status_code == 400
        unknown = graph.call("GET", "/v1.0/users/nobody@contoso.example/authentication/fido2Methods/creationOptions")
        assert unknown.status_code == 404


def test_expired_challenge_is_refused_and_a_longer_one_still_works() -> None:
    now = [1_900_000_000.0]
    with EntraEmulator(users=3, seed=2, clock=lambda: now[0]) as emulator:
        graph = Graph(emulator)
        user = next(iter(emulator.tenant.users.values()))["id"]
        short = make_credential(VirtualKey("fido21"), graph.creation_options(user))
        long = make_credential(VirtualKey("fido21"), graph.creation_options(
            user, "creationOptions(challengeTimeoutInMinutes=10)", "beta"))
        now[0] += 301
        assert "expired" in rejection(graph.register(user, short.body()))
        assert graph.register(user, long.body()).status_code == 201


# refused


def test_unknown_challenge(graph: Graph, key: VirtualKey) -> None:
    ceremony = make_credential(key, graph.creation_options(ZOE), challenge=b"not a challenge Entra issued!!")
    assert "challenge is unknown" in rejection(graph.register(ZOE, ceremony.body()))


def test_challenge_of_another_user(graph: Graph, key: VirtualKey) -> None:
    ceremony = make_credential(key, graph.creation_options(ZOE))
    assert "not issued for this user" in rejection(graph.register(JOSE, ceremony.body()))


def test_wrong_origin(graph: Graph, key: VirtualKey) -> None:
    ceremony = make_credential(key, graph.creation_options(ZOE), origin="https://login.example.com")
    assert "origin" in rejection(graph.register(ZOE, ceremony.body()))


def test_tampered_attestation_signature(graph: Graph, key: VirtualKey) -> None:
    ceremony = make_credential(key, graph.creation_options(ZOE))
    statement = dict(ceremony.attestation_object.att_stmt)
    signature = bytearray(statement["sig"])
    signature[-1] ^= 0x01
    statement["sig"] = bytes(signature)
    ceremony.attestation_object = AttestationObject.create(
        ceremony.attestation_object.fmt, ceremony.attestation_object.auth_data, statement)
    assert "signature is invalid" in rejection(graph.register(ZOE, ceremony.body()))


@pytest.mark.parametrize("field", ["rawId", "type", "authenticatorAttachment"])
def test_fields_entra_rejects_in_the_body(graph: Graph, key: VirtualKey, field: str) -> None:
    ceremony = make_credential(key, graph.creation_options(ZOE))
    assert field in rejection(graph.register(ZOE, ceremony.body(**{field: "public-key"})))


def test_missing_user_verification(graph: Graph, key: VirtualKey) -> None:
    ceremony = make_credential(key, graph.creation_options(ZOE), verify_user=False)
    assert "User verification is required" in rejection(graph.register(ZOE, ceremony.body()))


def test_duplicate_registration(graph: Graph, key: VirtualKey) -> None:
    ceremony = make_credential(key, graph.creation_options(ZOE))
    assert graph.register(ZOE, ceremony.body()).status_code == 201
    assert "already registered" in rejection(graph.register(ZOE, ceremony.body()))


def test_unknown_user_is_404(graph: Graph, key: VirtualKey) -> None:
    ceremony = make_credential(key, graph.creation_options(ZOE))
    assert graph.register("nobody@contoso.example", ceremony.body()).status_code == 404


@pytest.mark.parametrize("kind, listed", [("block", True), ("allow", False)])
def test_key_restrictions(graph: Graph, key: VirtualKey, kind: str, listed: bool) -> None:
    other = "cb69481e-8ff7-4039-93ec-0a2729a154a8"
    aaguids = [str(key.aaguid)] if listed else [other]
    assert graph.call("PATCH", POLICY, json={"keyRestrictions": {
        "isEnforced": True, "enforcementType": kind, "aaGuids": aaguids}}).status_code == 204
    try:
        ceremony = make_credential(key, graph.creation_options(ZOE))
        assert "AAGUID" in rejection(graph.register(ZOE, ceremony.body()))
    finally:
        graph.call("PATCH", POLICY, json={"keyRestrictions": {"isEnforced": False, "aaGuids": []}})


def test_self_service_setup_off_refuses_provisioning(graph: Graph) -> None:
    assert graph.call("PATCH", POLICY, json={"isSelfServiceRegistrationAllowed": False}).status_code == 204
    try:
        response = graph.call("GET", f"/v1.0/users/{ZOE}/authentication/fido2Methods/creationOptions")
        assert "self-service" in rejection(response)
        assert graph.call("GET", POLICY).json()["isSelfServiceRegistrationAllowed"] is False
    finally:
        graph.call("PATCH", POLICY, json={"isSelfServiceRegistrationAllowed": True})


@pytest.mark.parametrize("enforced", [True, False])
def test_attestation_from_an_untrusted_root(enforced: bool) -> None:
    foreign_root = make_client_certificate("Some other vendor root").cert_pem
    with EntraEmulator(users=2, trusted_roots=[foreign_root], attestation_enforced=enforced) as emulator:
        graph = Graph(emulator)
        user = next(iter(emulator.tenant.users.values()))["id"]
        ceremony = make_credential(VirtualKey("fido21"), graph.creation_options(user))
        response = graph.register(user, ceremony.body())
        if enforced:
            assert "not trusted" in rejection(response)
        else:
            assert response.status_code == 201
            assert response.json()["attestationLevel"] == "notAttested"


# faults


def test_lost_response_commits_the_method(graph: Graph, key: VirtualKey) -> None:
    ceremony = make_credential(key, graph.creation_options(ZOE))
    graph.emu.faults.lose_next_response(r"/fido2Methods$", "POST")
    with pytest.raises(requests.ConnectionError):
        graph.register(ZOE, ceremony.body())
    listed = graph.call("GET", f"/v1.0/users/{ZOE}/authentication/fido2Methods").json()["value"]
    assert url_token_encode(ceremony.credential_id) in {m["id"] for m in listed}
    assert "already registered" in rejection(graph.register(ZOE, ceremony.body()))


def test_revoked_token_is_refused_on_registration(graph: Graph, key: VirtualKey) -> None:
    ceremony = make_credential(key, graph.creation_options(ZOE))
    graph.emu.faults.revoke_tokens()
    response = graph.register(ZOE, ceremony.body())
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert Graph(graph.emu).register(ZOE, ceremony.body()).status_code == 201

