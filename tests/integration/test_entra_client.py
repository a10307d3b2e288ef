"""The Graph client against the Entra emulator over real HTTPS with real msal: auth, directory, passkeys,
policy preflight, and every refusal mapped to its reason and remedy."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fido2.cose import ES256
from fido2.webauthn import (
    AttestationObject,
    AttestedCredentialData,
    AuthenticatorData,
    CollectedClientData,
)

from station.config import Config
from station.entra import CreationOptions, EntraClient, remedies
from station.entra.retry import RetryPolicy
from station.errors import AuthError, GraphError, Reason
from station_emulator.entra import EntraEmulator
from station_emulator.key.attestation import attestation_signer
from station_emulator.key.profiles import get_profile

VIRTUAL_AAGUID = get_profile("fido21").default_aaguid


class Sleeps(list[float]):
    """An injected ``sleep`` that records what it was asked to wait instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client_config(emu: EntraEmulator, tmp_path: Path, *, auth: str = "secret", secret: str | None = None,
                  **tenant: Any) -> Config:
    info = emu.info
    settings: dict[str, Any] = {"tenant_id": info.tenant_id, "client_id": info.client_id,
                                "authority_host": info.graph_url, "graph_host": info.graph_url,
                                "ca_file": info.ca_file, **tenant}
    if auth == "secret":
        secret_file = tmp_path / "client-secret"
        secret_file.write_text(secret if secret is not None else info.client_secret)
        os.chmod(secret_file, 0o600)
        settings["client_secret_file"] = str(secret_file)
    else:
        settings["certificate_file"] = info.client_certificate_file
        settings["private_key_file"] = info.client_key_file
    return Config.model_validate({"tenant": settings, "store": {"url": f"sqlite:///{tmp_path / 'station.db'}"}})


def make_client(emu: EntraEmulator, tmp_path: Path, sleeps: Sleeps | None = None, **kw: Any) -> EntraClient:
    return EntraClient(client_config(emu, tmp_path, **kw), sleep=sleeps if sleeps is not None else Sleeps(),
                       retry=RetryPolicy(max_retries=3))


def make_registration(opts: CreationOptions, aaguid: UUID = VIRTUAL_AAGUID, *, fmt: str = "packed",
                      ) -> dict[str, Any]:
    """What a security key of the virtual key's model returns for ``opts``: a fresh credential with packed
    attestation from the model's attestation certificate."""
    credential_key = ec.generate_private_key(ec.SECP256R1())
    credential_id = os.urandom(64)
    auth_data = AuthenticatorData.create(
        hashlib.sha256(opts.rp_id.encode()).digest(),
        AuthenticatorData.FLAG.UP | AuthenticatorData.FLAG.UV | AuthenticatorData.FLAG.AT,
        0,
        AttestedCredentialData.create(aaguid.bytes, credential_id,
                                      ES256.from_cryptography_key(credential_key.public_key())),
    )
    client_data = CollectedClientData.create(type="webauthn.create", challenge=opts.challenge,
                                             origin=f"https://{opts.rp_id}")
    if fmt == "packed":
        signer = attestation_signer(aaguid)
        statement: dict[str, Any] = {"alg": -7, "sig": signer.sign(bytes(auth_data) + client_data.hash),
                                     "x5c": [signer.certificate]}
    else:
        statement = {}
    attestation = AttestationObject.create(fmt, auth_data, statement)
    return {"credential_id": credential_id, "client_data_json": bytes(client_data),
            "attestation_object": bytes(attestation), "client_extension_results": {"credProps": {"rk": True}}}


@pytest.fixture(scope="module")
def emu() -> Iterator[EntraEmulator]:
    with EntraEmulator(users=120, seed=11) as e:
        yield e


@pytest.fixture
def client(emu: EntraEmulator, tmp_path: Path) -> Iterator[EntraClient]:
    with make_client(emu, tmp_path) as c:
        yield c


@pytest.fixture
def policy(emu: EntraEmulator) -> Iterator[dict[str, Any]]:
    """The tenant's FIDO2 policy, restored after the test."""
    saved = {**emu.tenant.policy, "keyRestrictions": dict(emu.tenant.policy["keyRestrictions"])}
    yield emu.tenant.policy
    emu.tenant.policy.clear()
    emu.tenant.policy.update(saved)


def some_user(emu: EntraEmulator, n: int = 0) -> dict[str, Any]:
    return sorted(emu.tenant.users.values(), key=lambda u: u["id"])[n]


# -- authentication -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("auth", ["secret", "certificate"])
def test_reads_a_user_with_secret_or_certificate_auth(emu: EntraEmulator, tmp_path: Path, auth: str) -> None:
    user = some_user(emu)
    with make_client(emu, tmp_path, auth=auth) as c:
        by_upn = c.directory.get_user(user["userPrincipalName"])
        by_id = c.directory.get_user(user["id"])
    assert by_upn == by_id
    assert (by_upn.id, by_upn.user_principal_name, by_upn.display_name) == (
        user["id"], user["userPrincipalName"], user["displayName"])


def test_token_is_cached_between_calls(emu: EntraEmulator, client: EntraClient) -> None:
    before = sum(1 for r in emu.request_log if r.path.endswith("/token"))
    for n in range(3):
        client.directory.get_user(some_user(emu, n)["id"])
    assert sum(1 for r in emu.request_log if r.path.endswith("/token")) - before == 1


def test_wrong_secret_is_an_auth_error_with_a_remedy(emu: EntraEmulator, tmp_path: Path) -> None:
    with make_client(emu, tmp_path, secret="not-the-secret") as c, pytest.raises(AuthError) as e:
        c.directory.get_user(some_user(emu)["id"])
    assert e.value.reason == Reason.AUTH_FAILED
    assert e.value.code == "invalid_client"
    assert "client secret or certificate" in e.value.remedy


def test_missing_permission_names_the_permission_to_grant(emu: EntraEmulator, tmp_path: Path) -> None:
    emu.tenant.app.roles -= {"UserAuthMethod-Passkey.ReadWrite.All", "UserAuthenticationMethod.ReadWrite.All"}
    try:
        with make_client(emu, tmp_path) as c, pytest.raises(GraphError) as e:
            c.passkeys.creation_options(some_user(emu)["id"])
    finally:
        emu.tenant.app.roles |= {"UserAuthMethod-Passkey.ReadWrite.All", "UserAuthenticationMethod.ReadWrite.All"}
    assert (e.value.status, e.value.reason, e.value.remedy) == (403, Reason.GRAPH_DENIED, remedies.GRANT_PASSKEY)
    assert e.value.request_id and e.value.client_request_id


# -- directory ------------------------------------------------------------------------------------------------

def test_group_by_name_and_by_id_lists_every_transitive_user(emu: EntraEmulator, client: EntraClient) -> None:
    info = emu.info
    by_name = client.directory.resolve_group(info.group_name)
    assert by_name == client.directory.resolve_group(info.group_id)
    members = list(client.directory.group_members(by_name.id))
    group = emu.tenant.group(info.group_id)
    assert group is not None
    expected = {u["id"] for u in emu.tenant.transitive_member_objects(group)
                if u.get("@odata.type") == "#microsoft.graph.user"}
    assert {m.id for m in members} == expected
    assert all(m.user_principal_name for m in members)


def test_unknown_group_and_user_are_not_found(emu: EntraEmulator, client: EntraClient) -> None:
    with pytest.raises(GraphError) as e:
        client.directory.resolve_group("No such group")
    assert (e.value.reason, e.value.remedy) == (Reason.NOT_FOUND, remedies.GROUP_NOT_FOUND)
    with pytest.raises(GraphError) as e:
        client.directory.get_user("nobody@contoso.example")
    assert (e.value.status, e.value.reason, e.value.remedy) == (404, Reason.USER_NOT_FOUND, remedies.USER_NOT_FOUND)


def test_pages_through_ten_thousand_users(tmp_path: Path) -> None:
    with EntraEmulator(users=10_000, group_size=10_000, seed=5) as big, make_client(big, tmp_path) as c:
        members = list(c.directory.group_members(big.info.group_id))
        pages = [r for r in big.request_log if "transitiveMembers" in r.path]
    assert len({m.id for m in members}) == 10_000
    assert len(pages) > 1
    assert all(r.status == 200 for r in pages)


def test_delta_reports_adds_updates_and_removals(emu: EntraEmulator, client: EntraClient) -> None:
    first = client.directory.delta()
    assert {u.id for u in first.changed} == set(emu.tenant.users)
    assert first.delta_link
    quiet = client.directory.delta(first.delta_link)
    assert quiet.changed == [] and quiet.removed == []

    renamed, leaver = some_user(emu, 1), some_user(emu, 2)
    emu.tenant.update_user(renamed["id"], {"displayName": "Åsa Renamed"})
    emu.tenant.remove_user(leaver["id"])
    newcomer = emu.tenant.add_user({"id": "0a0a0a0a-0000-4000-8000-000000000001", "displayName": "Nuno Novo",
                                    "userPrincipalName": "nuno.novo@contoso.example"})
    try:
        changes = client.directory.delta(quiet.delta_link)
    finally:
        emu.tenant.add_user(leaver)
        emu.tenant.remove_user(newcomer["id"])
    changed = {u.id: u for u in changes.changed}
    assert set(changed) == {renamed["id"], newcomer["id"]}
    assert changed[renamed["id"]].display_name == "Åsa Renamed"
    assert changed[newcomer["id"]].user_principal_name == "nuno.novo@contoso.example"
    assert changes.removed == [leaver["id"]]


# -- passkeys -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("version", ["v1.0", "beta"])
def test_register_list_match_and_delete(emu: EntraEmulator, tmp_path: Path, version: str) -> None:
    user = some_user(emu, 3)
    with make_client(emu, tmp_path, graph_version=version, challenge_timeout_minutes=10) as c:
        opts = c.passkeys.creation_options(user["userPrincipalName"])
        reg = make_registration(opts)
        method_id = c.passkeys.register(user["id"], "Virtual key 2026-11-29 with a long name", **reg)
        methods = c.passkeys.list_methods(user["id"])
        assert [m.id for m in methods] == [method_id]
        assert methods[0].display_name == "Virtual key 2026-11-29 with a"
        assert methods[0].aaguid == str(VIRTUAL_AAGUID)
        assert c.passkeys.find_method_for_credential(user["id"], reg["credential_id"]) == method_id
        assert c.passkeys.find_method_for_credential(user["id"], os.urandom(64)) is None

        again = c.passkeys.creation_options(user["id"])
        assert reg["credential_id"] in again.exclude_credentials

        assert c.passkeys.delete(user["id"], method_id) is True
        assert c.passkeys.delete(user["id"], method_id) is False
        assert c.passkeys.list_methods(user["id"]) == []
    minutes = (opts.expires_at.timestamp() - emu.clock()) / 60
    assert (4 < minutes <= 5) if version == "v1.0" else (9 < minutes <= 10)


def test_creation_options_for_unknown_user(client: EntraClient) -> None:
    with pytest.raises(GraphError) as e:
        client.passkeys.creation_options("nobody@contoso.example")
    assert (e.value.reason, e.value.remedy) == (Reason.USER_NOT_FOUND, remedies.USER_NOT_FOUND)


@pytest.mark.parametrize(
    ("change", "reason", "remedy"),
    [
        ({"isSelfServiceRegistrationAllowed": False}, Reason.GRAPH_POLICY, remedies.ENABLE_SELF_SERVICE),
        ({"state": "disabled"}, Reason.GRAPH_POLICY, remedies.ENABLE_FIDO2),
        ({"includeTargets": [{"targetType": "group", "id": "00000000-0000-4000-8000-00000000dead"}]},
         Reason.GRAPH_POLICY, remedies.ADD_TO_TARGETS),
    ],
)
def test_policy_refusals_of_creation_options(client: EntraClient, emu: EntraEmulator, policy: dict[str, Any],
                                             change: dict[str, Any], reason: Reason, remedy: str) -> None:
    policy.update(change)
    with pytest.raises(GraphError) as e:
        client.passkeys.creation_options(some_user(emu, 4)["id"])
    assert (e.value.status, e.value.reason, e.value.remedy) == (400, reason, remedy)


def test_registration_refusals(client: EntraClient, emu: EntraEmulator, policy: dict[str, Any]) -> None:
    user_id = some_user(emu, 5)["id"]

    def refusal(**reg_kw: Any) -> GraphError:
        opts = client.passkeys.creation_options(user_id)
        with pytest.raises(GraphError) as e:
            client.passkeys.register(user_id, "key", **make_registration(opts, **reg_kw))
        return e.value

    policy["keyRestrictions"] = {"isEnforced": True, "enforcementType": "block", "aaGuids": [str(VIRTUAL_AAGUID)]}
    e = refusal()
    assert (e.reason, e.remedy) == (Reason.AAGUID_NOT_ALLOWED, remedies.AAGUID_REFUSED)
    policy["keyRestrictions"] = {"isEnforced": False, "enforcementType": "block", "aaGuids": []}

    policy["isAttestationEnforced"] = True
    e = refusal(fmt="none")
    assert (e.reason, e.remedy) == (Reason.GRAPH_POLICY, remedies.ATTESTATION_REFUSED)

    opts = client.passkeys.creation_options(user_id)
    emu.advance_clock(6 * 60)
    with pytest.raises(GraphError) as expired:
        client.passkeys.register(user_id, "key", **make_registration(opts))
    assert (expired.value.reason, expired.value.retryable) == (Reason.CHALLENGE_EXPIRED, True)

    opts = client.passkeys.creation_options(user_id)
    reg = make_registration(opts)
    client.passkeys.register(user_id, "key", **reg)
    with pytest.raises(GraphError) as duplicate:
        client.passkeys.register(user_id, "key", **reg)
    assert (duplicate.value.reason, duplicate.value.remedy) == (Reason.ALREADY_REGISTERED,
                                                                remedies.ALREADY_REGISTERED)


# -- preflight ------------------------------------------------------------------------------------------------

def test_preflight_reports_what_would_fail(emu: EntraEmulator, tmp_path: Path, policy: dict[str, Any]) -> None:
    cfg = client_config(emu, tmp_path)
    cfg.enrolment.allowed_aaguids = [str(VIRTUAL_AAGUID)]
    with EntraClient(cfg) as c:
        assert all(f.ok for f in c.preflight())
        policy["isSelfServiceRegistrationAllowed"] = False
        policy["keyRestrictions"] = {"isEnforced": True, "enforcementType": "allow",
                                     "aaGuids": ["cb69481e-8ff7-4039-93ec-0a2729a154a8"]}
        failed = {f.check: f for f in c.preflight() if not f.ok}
    assert set(failed) == {"self-service setup", "key restrictions"}
    assert failed["self-service setup"].remedy == remedies.ENABLE_SELF_SERVICE
    assert str(VIRTUAL_AAGUID) in failed["key restrictions"].detail
