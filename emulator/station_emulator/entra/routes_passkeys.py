"""Graph passkey endpoints: the FIDO2 policy, creationOptions, and fido2Methods list/get/register/delete."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from station_emulator.entra.codec import standard_encode, url_token_encode, websafe_encode
from station_emulator.entra.protocol import GraphError, Request, Response, Route, bad_request, iso_time, route
from station_emulator.entra.routes_directory import require_user
from station_emulator.entra.tenant import Challenge, Fido2Method
from station_emulator.entra.verify import (
    RP_ID,
    RegistrationRejected,
    check_attestation,
    check_authenticator_data,
    check_client_data,
    check_key_restrictions,
    parse_registration,
)

if TYPE_CHECKING:
    from station_emulator.entra.server import EntraEmulator

ROUTES: list[Route] = []
PASSKEY_RW = ("UserAuthMethod-Passkey.ReadWrite.All", "UserAuthenticationMethod.ReadWrite.All")
POLICY_READ = ("Policy.Read.All", "Policy.ReadWrite.AuthenticationMethod")
POLICY_WRITE = ("Policy.ReadWrite.AuthenticationMethod",)
V1_TIMEOUT_MINUTES = 5
MIN_TIMEOUT_MINUTES, MAX_TIMEOUT_MINUTES = 5, 43200
_METHODS = r"/users/(?P<key>[^/]+)/authentication/fido2Methods"
_POLICY = r"/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/fido2"
_ENCODERS = (url_token_encode, standard_encode, websafe_encode)


def _rejected(message: str) -> GraphError:
    return GraphError(400, "invalidRequest", message)


def _policy_allows_provisioning(emu: EntraEmulator, user: dict[str, Any]) -> None:
    policy = emu.tenant.policy
    if policy.get("state") != "enabled":
        raise _rejected("The FIDO2 authentication method is disabled in the authentication methods policy.")
    if not policy.get("isSelfServiceRegistrationAllowed"):
        raise _rejected("Passkey provisioning requires 'Allow self-service setup' in the FIDO2 policy.")
    targets = [t.get("id") for t in policy.get("includeTargets") or []]
    if "all_users" not in targets and not any(emu.tenant.is_transitive_member(str(g), user["id"]) for g in targets):
        raise _rejected("The user is not targeted by the FIDO2 authentication method policy.")
    for target in policy.get("excludeTargets") or []:
        if emu.tenant.is_transitive_member(str(target.get("id")), user["id"]):
            raise _rejected("The user is excluded from the targets of the FIDO2 authentication method policy.")


# policy


@route(ROUTES, "GET", _POLICY, roles=POLICY_READ)
def get_policy(emu: EntraEmulator, req: Request, m: re.Match[str]) -> Response:
    with emu.tenant.lock:
        return Response(200, {"@odata.context": f"{req.base_url}/{req.version}/$metadata#authenticationMethod"
                                                "Configurations/$entity", **json.loads(json.dumps(emu.tenant.policy))})


@route(ROUTES, "PATCH", _POLICY, roles=POLICY_WRITE)
def update_policy(emu: EntraEmulator, req: Request, m: re.Match[str]) -> Response:
    body = req.json()
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    with emu.tenant.lock:
        for key, value in body.items():
            if key == "keyRestrictions" and isinstance(value, dict):
                emu.tenant.policy["keyRestrictions"].update(value)
            elif key not in ("id", "@odata.type"):
                emu.tenant.policy[key] = value
    return Response(204)


# creation options


def _challenge(emu: EntraEmulator, user_id: str, expires_at: float) -> bytes:
    """An opaque, signed-looking ASCII token, as Entra's challenges are."""
    header = websafe_encode(b'{"alg":"HS256","typ":"JWT"}')
    payload = websafe_encode(json.dumps({"uid": user_id, "exp": int(expires_at),
                                         "n": secrets.token_hex(8)}).encode())
    signature = websafe_encode(hmac.new(emu.challenge_key, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    return f"{header}.{payload}.{signature}".encode()


def _creation_options(emu: EntraEmulator, req: Request, key: str, minutes: int) -> Response:
    user = require_user(emu, key)
    _policy_allows_provisioning(emu, user)
    expires_at = emu.clock() + minutes * 60
    value = _challenge(emu, user["id"], expires_at)
    with emu.tenant.lock:
        emu.tenant.challenges[value] = Challenge(value, user["id"], expires_at)
        methods = emu.tenant.methods_of(user["id"])
    exclude = [{"id": _ENCODERS[i % len(_ENCODERS)](method.credential_id), "type": "public-key", "transports": []}
               for i, method in enumerate(methods)]
    return Response(200, {
        "@odata.context": f"{req.base_url}/{req.version}/$metadata#microsoft.graph.webauthnCredentialCreationOptions",
        "challengeTimeoutDateTime": iso_time(expires_at),
        "publicKey": {
            "challenge": websafe_encode(value),
            "timeout": 0,
            "attestation": "direct",
            "rp": {"id": RP_ID, "name": "Microsoft"},
            "user": {"id": websafe_encode(uuid.UUID(user["id"]).bytes), "displayName": user["displayName"],
                     "name": user["userPrincipalName"]},
            "pubKeyCredParams": [{"type": "public-key", "alg": -7}, {"type": "public-key", "alg": -257}],
            "excludeCredentials": exclude,
            "authenticatorSelection": {"authenticatorAttachment": "cross-platform", "requireResidentKey": True,
                                       "userVerification": "required"},
            "extensions": {"hmacCreateSecret": True, "enforceCredentialProtectionPolicy": True,
                           "credentialProtectionPolicy": "userVerificationOptional"},
        },
    })


@route(ROUTES, "GET", _METHODS + r"/creationOptions", roles=PASSKEY_RW)
def creation_options(emu: EntraEmulator, req: Request, m: re.Match[str]) -> Response:
    if any(k.lower() == "challengetimeoutinminutes" for k in req.query):
        raise GraphError(405, "methodNotAllowed", "The requested method is not allowed for this resource. "
                         "Pass challengeTimeoutInMinutes as a function parameter: "
                         "creationOptions(challengeTimeoutInMinutes=N).")
    return _creation_options(emu, req, m["key"], V1_TIMEOUT_MINUTES)


@route(ROUTES, "GET", _METHODS + r"/creationOptions\((?P<args>[^)]*)\)", roles=PASSKEY_RW)
def creation_options_with_timeout(emu: EntraEmulator, req: Request, m: re.Match[str]) -> Response:
    args = dict(part.split("=", 1) for part in unquote(m["args"]).split(",") if "=" in part)
    if req.version != "beta":
        raise bad_request("Resource not found for the segment 'creationOptions'. challengeTimeoutInMinutes is "
                          "available in the beta endpoint.")
    raw = next((v for k, v in args.items() if k.strip().lower() == "challengetimeoutinminutes"), None)
    if raw is None or (m["args"].strip() and not args):
        raise bad_request("The function parameter 'challengeTimeoutInMinutes' is missing or malformed.")
    try:
        minutes = int(raw.strip())
    except ValueError:
        raise bad_request(f"challengeTimeoutInMinutes '{raw}' is not an integer.") from None
    if not MIN_TIMEOUT_MINUTES <= minutes <= MAX_TIMEOUT_MINUTES:
        raise bad_request(f"challengeTimeoutInMinutes must be between {MIN_TIMEOUT_MINUTES} and "
                          f"{MAX_TIMEOUT_MINUTES}.")
    return _creation_options(emu, req, m["key"], minutes)


# fido2 methods


@route(ROUTES, "GET", _METHODS, roles=PASSKEY_RW)
def list_methods(emu: EntraEmulator, req: Request, m: re.Match[str]) -> Response:
    user = require_user(emu, m["key"])
    return Response(200, {
        "@odata.context": f"{req.base_url}/{req.version}/$metadata#users('{user['id']}')/authentication/"
                          "fido2Methods",
        "value": [method.to_graph() for method in emu.tenant.methods_of(user["id"])],
    })


def _require_method(emu: EntraEmulator, user: dict[str, Any], method_id: str) -> Fido2Method:
    for method in emu.tenant.methods_of(user["id"]):
        if method.id == unquote(method_id):
            return method
    raise GraphError(404, "itemNotFound", f"The FIDO2 method '{unquote(method_id)}' was not found.")


@route(ROUTES, "GET", _METHODS + r"/(?P<method>[^/]+)", roles=PASSKEY_RW)
def get_method(emu: EntraEmulator, req: Request, m: re.Match[str]) -> Response:
    user = require_user(emu, m["key"])
    return Response(200, _require_method(emu, user, m["method"]).to_graph())


@route(ROUTES, "DELETE", _METHODS + r"/(?P<method>[^/]+)", roles=PASSKEY_RW)
def delete_method(emu: EntraEmulator, req: Request, m: re.Match[str]) -> Response:
    user = require_user(emu, m["key"])
    method = _require_method(emu, user, m["method"])
    emu.tenant.remove_method(user["id"], method.id)
    return Response(204)


@route(ROUTES, "POST", _METHODS, roles=PASSKEY_RW)
def register_method(emu: EntraEmulator, req: Request, m: re.Match[str]) -> Response:
    user = require_user(emu, m["key"])
    _policy_allows_provisioning(emu, user)
    try:
        method = _verified_method(emu, user, req.json())
    except RegistrationRejected as e:
        raise _rejected(e.message) from None
    return Response(201, {"@odata.context": f"{req.base_url}/{req.version}/$metadata#users('{user['id']}')/"
                                            "authentication/fido2Methods/$entity", **method.to_graph()})


def _verified_method(emu: EntraEmulator, user: dict[str, Any], body: Any) -> Fido2Method:
    """Check a registration as Entra does and, when it passes, commit it (consuming the challenge)."""
    registration = parse_registration(body)
    check_client_data(registration.client_data)
    tenant = emu.tenant
    with tenant.lock:
        # Before the challenge: a re-sent registration whose first answer was lost is told it already exists.
        if tenant.method_with_credential(registration.credential_id) is not None:
            raise RegistrationRejected("This security key credential is already registered.")
        challenge = tenant.challenges.get(registration.client_data.challenge)
        if challenge is None:
            raise RegistrationRejected("The challenge is unknown or has already been used.")
        if challenge.user_id != user["id"]:
            raise RegistrationRejected("The challenge is invalid: it was not issued for this user.")
        if emu.clock() > challenge.expires_at:
            raise RegistrationRejected("The challenge has expired. Request new creation options.")
    check_authenticator_data(registration)
    with tenant.lock:
        policy = json.loads(json.dumps(tenant.policy))
    outcome = check_attestation(registration, emu.trusted_roots, enforced=bool(policy.get("isAttestationEnforced")))
    credential_data = registration.auth_data.credential_data
    assert credential_data is not None  # checked by check_authenticator_data
    aaguid = str(credential_data.aaguid)
    check_key_restrictions(aaguid, policy)
    with tenant.lock:
        if tenant.method_with_credential(registration.credential_id) is not None:
            raise RegistrationRejected("This security key credential is already registered.")
        if tenant.challenges.pop(registration.client_data.challenge, None) is None:
            raise RegistrationRejected("The challenge is unknown or has already been used.")
        method = Fido2Method(
            id=url_token_encode(registration.credential_id), user_id=user["id"],
            credential_id=registration.credential_id, display_name=registration.display_name,
            created=emu.clock(), aaguid=aaguid, model=tenant.models.get(aaguid),
            attestation_level="attested" if outcome.attested else "notAttested",
            attestation_certificates=outcome.certificate_thumbprints,
        )
        tenant.add_method(method)
    return method
