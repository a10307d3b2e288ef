"""The Entra emulator over real HTTPS with real msal: tokens, directory reads, delta, faults, admin endpoint."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msal
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from station_emulator.entra import EntraEmulator
from station_emulator.entra.certs import make_client_certificate

SCOPE = ["https://graph.microsoft.com/.default"]


def https_session(emu: EntraEmulator) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # this machine's REQUESTS_CA_BUNDLE would override verify
    session.verify = emu.info.ca_file
    return session


def msal_app(emu: EntraEmulator, credential: Any) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(
        emu.info.client_id, client_credential=credential, authority=emu.info.authority,
        instance_discovery=False, http_client=https_session(emu),
    )


class Graph:
    """A bare Graph caller for these tests: a token from msal (client secret) and a verified session."""

    def __init__(self, emu: EntraEmulator):
        self.emu = emu
        self.session = https_session(emu)
        result = msal_app(emu, emu.info.client_secret).acquire_token_for_client(scopes=SCOPE)
        self.token = result["access_token"]

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        url = path if path.startswith("https://") else f"{self.emu.info.graph_url}{path}"
        return self.session.request(method, url, headers=headers, timeout=30, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("GET", path, **kwargs)

    def all_pages(self, path: str, **kwargs: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        items: list[dict[str, Any]] = []
        url: str | None = path
        last: dict[str, Any] = {}
        while url:
            response = self.get(url, **kwargs)
            assert response.status_code == 200, response.text
            last = response.json()
            items.extend(last["value"])
            url = last.get("@odata.nextLink")
        return items, last


@pytest.fixture(scope="module")
def emu() -> Iterator[EntraEmulator]:
    with EntraEmulator(users=60, group_size=40, seed=7) as emulator:
        yield emulator


@pytest.fixture
def graph(emu: EntraEmulator) -> Iterator[Graph]:
    emu.faults.clear()
    yield Graph(emu)
    emu.faults.clear()


# identity


def test_msal_gets_a_token_with_the_client_secret(emu: EntraEmulator) -> None:
    result = msal_app(emu, emu.info.client_secret).acquire_token_for_client(scopes=SCOPE)
    assert result.get("token_type") == "Bearer", result
    assert 3000 < result["expires_in"] <= 3600
    assert Graph(emu).get("/v1.0/users?$top=1").status_code == 200


def test_wrong_client_secret_is_refused_as_entra_does(emu: EntraEmulator) -> None:
    result = msal_app(emu, "not-the-secret").acquire_token_for_client(scopes=SCOPE)
    assert result["error"] == "invalid_client"
    assert result["error_description"].startswith("AADSTS7000215:")
    assert result["error_codes"] == [7000215]


def test_msal_authenticates_with_a_registered_certificate(emu: EntraEmulator) -> None:
    info = emu.info
    key_pem = Path(info.client_key_file).read_text()
    cert_pem = Path(info.client_certificate_file).read_text()
    # public_certificate: PS256 with x5t#S256; thumbprint: RS256 with the SHA-1 x5t.
    with_cert = msal_app(emu, {"private_key": key_pem, "public_certificate": cert_pem})
    assert "access_token" in with_cert.acquire_token_for_client(scopes=SCOPE)
    sha1 = x509.load_pem_x509_certificate(cert_pem.encode()).fingerprint(hashes.SHA1()).hex()
    with_thumbprint = msal_app(emu, {"private_key": key_pem, "thumbprint": sha1})
    assert "access_token" in with_thumbprint.acquire_token_for_client(scopes=SCOPE)


def test_assertion_signed_by_an_unregistered_certificate_is_refused(emu: EntraEmulator) -> None:
    stranger = make_client_certificate("stranger")
    app = msal_app(emu, {"private_key": stranger.key_pem.decode(), "public_certificate": stranger.cert_pem.decode()})
    result = app.acquire_token_for_client(scopes=SCOPE)
    assert result["error"] == "invalid_client"
    assert "AADSTS700027" in result["error_description"]
    emu.register_client_certificate(stranger.cert_pem)
    assert "access_token" in app.acquire_token_for_client(scopes=SCOPE)


def test_tokens_expire_and_can_be_revoked() -> None:
    now = [1_800_000_000.0]
    with EntraEmulator(users=3, clock=lambda: now[0]) as emulator:
        graph = Graph(emulator)
        assert graph.get("/v1.0/users").status_code == 200
        now[0] += 3600
        expired = graph.get("/v1.0/users")
        assert expired.status_code == 401
        assert expired.json()["error"]["code"] == "InvalidAuthenticationToken"
        assert "expired" in expired.json()["error"]["message"]

        graph = Graph(emulator)
        assert emulator.faults.revoke_tokens() >= 1
        revoked = graph.get("/v1.0/users")
        assert revoked.status_code == 401
        assert revoked.json()["error"]["code"] == "InvalidAuthenticationToken"
        assert Graph(emulator).get("/v1.0/users").status_code == 200


def test_unknown_tenant_is_refused_at_discovery(emu: EntraEmulator) -> None:
    response = https_session(emu).get(
        f"{emu.base_url}/not-a-tenant/v2.0/.well-known/openid-configuration", timeout=10)
    assert response.status_code == 400
    assert response.json()["error_codes"] == [90002]


def test_graph_without_a_token_is_401(emu: EntraEmulator) -> None:
    response = https_session(emu).get(f"{emu.info.graph_url}/v1.0/users", timeout=10)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_missing_permission_is_403(graph: Graph) -> None:
    roles = set(graph.emu.tenant.app.roles)
    graph.emu.tenant.app.roles -= {"Policy.Read.All", "Policy.ReadWrite.AuthenticationMethod"}
    try:
        fresh = Graph(graph.emu)
        response = fresh.get("/beta/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/fido2")
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "Authorization_RequestDenied"
    finally:
        graph.emu.tenant.app.roles = roles


# users


def test_users_page_select_filter_and_get_by_upn(graph: Graph) -> None:
    users, _ = graph.all_pages("/v1.0/users?$top=7&$select=id,userPrincipalName,displayName")
    assert len(users) == 60
    assert len({u["id"] for u in users}) == 60
    assert all(set(u) == {"id", "userPrincipalName", "displayName"} for u in users)
    names = {u["displayName"]: u["userPrincipalName"] for u in users}
    assert names["Zoë Ångström"] == "zoe.angstrom@contoso.example"
    assert names["José Müller"] == "jose.muller@contoso.example"

    exact = graph.get("/v1.0/users?$filter=userPrincipalName eq 'ZOE.angstrom@contoso.example'").json()["value"]
    assert [u["displayName"] for u in exact] == ["Zoë Ångström"]
    prefix = graph.get("/v1.0/users?$filter=startswith(userPrincipalName,'jose.')").json()["value"]
    assert prefix and all(u["userPrincipalName"].startswith("jose.") for u in prefix)

    by_upn = graph.get("/v1.0/users/jose.muller@contoso.example?$select=id,surname")
    assert by_upn.status_code == 200 and by_upn.json()["surname"] == "Müller"
    by_id = graph.get(f"/beta/users/{by_upn.json()['id']}")
    assert by_id.json()["userPrincipalName"] == "jose.muller@contoso.example"


def test_unknown_user_is_404_in_graphs_envelope_with_the_client_request_id(graph: Graph) -> None:
    response = graph.get("/v1.0/users/nobody@contoso.example", headers={"client-request-id": "abc-123"})
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "Request_ResourceNotFound"
    assert error["innerError"]["client-request-id"] == "abc-123"
    assert error["innerError"]["request-id"] == response.headers["request-id"]
    assert error["innerError"]["date"].endswith("Z")
    assert response.headers["client-request-id"] == "abc-123"


def test_ten_thousand_users_page_quickly() -> None:
    started = time.monotonic()
    with EntraEmulator(users=10_000, seed=3) as emulator:
        users, _ = Graph(emulator).all_pages("/v1.0/users?$top=999&$select=id,userPrincipalName")
    assert len(users) == 10_000
    assert len({u["userPrincipalName"] for u in users}) == 10_000
    assert time.monotonic() - started < 20


# groups


def test_group_found_by_display_name(graph: Graph) -> None:
    found = graph.get("/v1.0/groups?$filter=displayName eq 'Passkey rollout'").json()["value"]
    assert [g["id"] for g in found] == [graph.emu.info.group_id]


def test_transitive_user_members_need_consistency_level(graph: Graph) -> None:
    path = (f"/v1.0/groups/{graph.emu.info.group_id}/transitiveMembers/microsoft.graph.user"
            "?$select=id,userPrincipalName,displayName&$count=true&$top=9")
    refused = graph.get(path)
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "Request_UnsupportedQuery"

    members, last = graph.all_pages(path, headers={"ConsistencyLevel": "eventual"})
    ids = [m["id"] for m in members]
    assert len(ids) == len(set(ids)) == 40 == last["@odata.count"]

    direct = graph.all_pages(f"/v1.0/groups/{graph.emu.info.group_id}/members?$top=999")[0]
    nested = [m for m in direct if m["@odata.type"] == "#microsoft.graph.group"]
    assert [g["displayName"] for g in nested] == ["Passkey rollout pilot"]
    direct_users = {m["id"] for m in direct if m["@odata.type"] == "#microsoft.graph.user"}
    assert direct_users < set(ids), "some members are reachable only through the nested group"


# delta


def test_delta_rounds_report_adds_updates_and_removals() -> None:
    with EntraEmulator(users=25, seed=11) as emulator:
        graph = Graph(emulator)
        pages = graph.get("/v1.0/users/delta?$select=id,userPrincipalName,displayName",
                          headers={"Prefer": "odata.maxpagesize=6"}).json()
        assert len(pages["value"]) == 6 and "@odata.nextLink" in pages
        first, last = graph.all_pages("/v1.0/users/delta?$select=id,userPrincipalName,displayName&$top=6")
        assert len({u["id"] for u in first}) == 25
        delta_link = last["@odata.deltaLink"]
        assert "@odata.nextLink" not in last

        created = graph.call("POST", "/v1.0/users", json={
            "displayName": "Åsa Nyström", "userPrincipalName": "asa.nystrom@contoso.example",
            "accountEnabled": True, "mailNickname": "asa.nystrom"})
        assert created.status_code == 201
        renamed, removed = first[3]["id"], first[4]["id"]
        assert graph.call("PATCH", f"/v1.0/users/{renamed}", json={"displayName": "Renamed Person"}).status_code == 204
        assert graph.call("DELETE", f"/v1.0/users/{removed}").status_code == 204

        changes, last = graph.all_pages(delta_link)
        by_id = {c["id"]: c for c in changes}
        assert set(by_id) == {created.json()["id"], renamed, removed}
        assert by_id[renamed]["displayName"] == "Renamed Person"
        assert by_id[removed]["@removed"] == {"reason": "changed"}
        assert by_id[created.json()["id"]]["userPrincipalName"] == "asa.nystrom@contoso.example"

        quiet, last = graph.all_pages(last["@odata.deltaLink"])
        assert quiet == []


# faults


def test_throttling_answers_429_with_retry_after(graph: Graph) -> None:
    graph.emu.faults.update({"throttle_rate": 1.0, "retry_after": 7})
    response = graph.get("/v1.0/users")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.json()["error"]["code"] == "TooManyRequests"


def test_a_fraction_of_calls_fail_with_503(graph: Graph) -> None:
    graph.emu.faults.update({"error_rate": 0.5})
    statuses = [graph.get("/v1.0/users?$top=1").status_code for _ in range(40)]
    assert {200, 503} == set(statuses)
    assert 8 <= statuses.count(503) <= 32


def test_scripted_faults_hit_only_matching_calls(graph: Graph) -> None:
    graph.emu.faults.inject(429, count=2, path=r"/users\?", method="GET", retry_after=3)
    assert graph.get("/v1.0/groups").status_code == 200
    assert [graph.get("/v1.0/users?$top=1").status_code for _ in range(3)] == [429, 429, 200]


def test_latency_is_added(graph: Graph) -> None:
    graph.emu.faults.update({"latency_ms": 150})
    started = time.monotonic()
    assert graph.get("/v1.0/users?$top=1").status_code == 200
    assert time.monotonic() - started >= 0.15


def test_a_lost_response_still_commits_the_change(graph: Graph) -> None:
    graph.emu.faults.lose_next_response(r"/users$", "POST")
    with pytest.raises(requests.ConnectionError):
        graph.call("POST", "/v1.0/users", json={"displayName": "Lost Answer",
                                                 "userPrincipalName": "lost.answer@contoso.example"})
    assert graph.get("/v1.0/users/lost.answer@contoso.example").status_code == 200
    assert graph.emu.request_log[-2].lost and graph.emu.request_log[-2].method == "POST"


# admin endpoint and CLI


def test_admin_endpoint_steers_faults_and_reads_the_log(graph: Graph) -> None:
    emu = graph.emu
    admin = https_session(emu)
    base = f"{emu.base_url}/_emulator"
    assert admin.get(f"{base}/faults", timeout=10).status_code == 401
    headers = {"X-Emulator-Secret": emu.info.client_secret}
    assert admin.patch(f"{base}/faults", json={"throttle_rate": 1.0}, headers=headers, timeout=10).ok
    assert graph.get("/v1.0/users", headers={"client-request-id": "from-test"}).status_code == 429
    assert admin.patch(f"{base}/faults", json={"throttle_rate": 0}, headers=headers, timeout=10).ok
    log = admin.get(f"{base}/requests", headers=headers, timeout=10).json()["value"]
    assert log[-1]["client_request_id"] == "from-test" and log[-1]["status"] == 429
    assert admin.post(f"{base}/tokens/revoke", headers=headers, timeout=10).json()["revoked"] >= 1
    assert graph.get("/v1.0/users").status_code == 401


def test_same_seed_same_tenant() -> None:
    a, b, c = EntraEmulator(users=40, seed=5), EntraEmulator(users=40, seed=5), EntraEmulator(users=40, seed=6)
    assert a.tenant.tenant_id == b.tenant.tenant_id != c.tenant.tenant_id
    assert list(a.tenant.users) == list(b.tenant.users)
    assert [u["userPrincipalName"] for u in a.tenant.users.values()] == \
        [u["userPrincipalName"] for u in b.tenant.users.values()]
    assert a.tenant.app.client_secret != b.tenant.app.client_secret


def test_cli_serves_and_writes_a_private_info_file(tmp_path: Path) -> None:
    info_file = tmp_path / "emulator.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "station.cli", "emulate", "entra", "--users", "5", "--seed", "2",
         "--info-json", str(info_file), "--cert-dir", str(tmp_path / "certs")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert banner.startswith("Entra emulator listening on https://127.0.0.1:"), banner
        info = json.loads(info_file.read_text())
        assert stat.S_IMODE(info_file.stat().st_mode) == 0o600
        assert set(info) >= {"authority", "graph_url", "tenant_id", "client_id", "client_secret", "ca_file",
                             "group_id", "group_name"}
        session = requests.Session()
        session.trust_env = False
        session.verify = info["ca_file"]
        app = msal.ConfidentialClientApplication(info["client_id"], client_credential=info["client_secret"],
                                                 authority=info["authority"], instance_discovery=False,
                                                 http_client=session)
        token = app.acquire_token_for_client(scopes=SCOPE)["access_token"]
        users = session.get(f"{info['graph_url']}/v1.0/users", headers={"Authorization": f"Bearer {token}"},
                            timeout=10).json()["value"]
        assert len(users) == 5
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
