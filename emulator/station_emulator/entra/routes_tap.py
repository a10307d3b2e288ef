"""Temporary Access Pass (TAP): Graph's temporaryAccessPassMethods (create, list, get, delete), the TAP method
policy, and a test route that signs in with a TAP and registers a passkey as the person would themselves.

One live TAP per user: creating one replaces the one before. The pass is returned once, by the POST; reads
show ``temporaryAccessPass: null``. A one-time TAP accepted once is ``OneTimeUsed`` from then on.
"""

from __future__ import annotations

import re
import secrets
import string
import uuid
from typing import TYPE_CHECKING, Any

from station_emulator.entra.protocol import GraphError, Request, Response, Route, bad_request, route
from station_emulator.entra.routes_directory import require_user
from station_emulator.entra.tap import TapMethod
from station_emulator.entra.tenant import Fido2Method

if TYPE_CHECKING:
    from station_emulator.entra.server import EntraEmulator

ROUTES: list[Route] = []
TAP_RW = ("UserAuthenticationMethod.ReadWrite.All",)
TAP_READ = ("UserAuthenticationMethod.Read.All", "UserAuthenticationMethod.ReadWrite.All")
POLICY_READ = ("Policy.Read.All", "Policy.ReadWrite.AuthenticationMethod")
_METHODS = r"/users/(?P<key>[^/]+)/authentication/temporaryAccessPassMethods"
_POLICY = r"/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/temporaryAccessPass"
_ALPHABET = string.ascii_letters + string.digits + "!@#$%&*+=?"


def _taps(emu: EntraEmulator) -> dict[str, TapMethod]:
    return emu.tenant.taps


def _policy(emu: EntraEmulator) -> dict[str, Any]:
    return emu.tenant.tap_policy


@route(ROUTES, "GET", _POLICY, roles=POLICY_READ)
def get_policy(emu: EntraEmulator, req: Request, m: re.Match[str]) -> Response:
    with emu.tenant.lock:
        return Response(200, {"@odata.context": f"{req.base_url}/{req.version}/$metadata#authenticationMethod"
                                                "Configurations/$entity", **_policy(emu)})


@route(ROUTES, "POST", _METHODS, roles=TAP_RW)
def create_tap(emu: EntraEmulator, req: Request, m: re.Match[str]) -> Response:
    user = require_user(emu, m["key"])
    body = req.json() or {}
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    with emu.tenant.lock:
        policy = dict(_policy(emu))
        if policy.get("state") != "enabled":
            raise GraphError(400, "badRequest", "The Temporary Access Pass authentication method is disabled in "
                             "the authentication methods policy.")
        lifetime = body.get("lifetimeInMinutes", policy["defaultLifetimeInMinutes"])
        low, high = int(policy["minimumLifetimeInMinutes"]), int(policy["maximumLifetimeInMinutes"])
        if not isinstance(lifetime, int) or not low <= lifetime <= high:
            raise bad_request(f"lifetimeInMinutes must be between {low} and {high} (the TAP policy's limits).")
        once = bool(body.get("isUsableOnce", False)) or bool(policy.get("isUsableOnce"))
        secret = "".join(secrets.choice(_ALPHABET) for _ in range(int(policy["defaultLength"])))
        tap = TapMethod(str(uuid.uuid4()), user["id"], secret, emu.clock(), lifetime, once)
        _taps(emu)[user["id"]] = tap
    return Response(201, {"@odata.context": f"{req.base_url}/{req.version}/$metadata#users('{user['id']}')/"
                                            "authentication/temporaryAccessPassMethods/$entity",
                          **tap.to_graph(emu.clock(), with_secret=True)})


@route(ROUTES, "GET", _METHODS, roles=TAP_READ)
def list_taps(emu: EntraEmulator, req: Request, m: re.Match[str]) -> Response:
    user = require_user(emu, m["key"])
    with emu.tenant.lock:
        tap = _taps(emu).get(user["id"])
    return Response(200, {"value": [tap.to_graph(emu.clock())] if tap else []})


def _require_tap(emu: EntraEmulator, user: dict[str, Any], method_id: str) -> TapMethod:
    with emu.tenant.lock:
        tap = _taps(emu).get(user["id"])
    if tap is None or tap.id != method_id:
        raise GraphError(404, "itemNotFound", f"The Temporary Access Pass method '{method_id}' was not found.")
    return tap


@route(ROUTES, "GET", _METHODS + r"/(?P<method>[^/]+)", roles=TAP_READ)
def get_tap(emu: EntraEmulator, req: Request, m: re.Match[str]) -> Response:
    user = require_user(emu, m["key"])
    return Response(200, _require_tap(emu, user, m["method"]).to_graph(emu.clock()))


@route(ROUTES, "DELETE", _METHODS + r"/(?P<method>[^/]+)", roles=TAP_RW)
def delete_tap(emu: EntraEmulator, req: Request, m: re.Match[str]) -> Response:
    user = require_user(emu, m["key"])
    tap = _require_tap(emu, user, m["method"])
    with emu.tenant.lock:
        if _taps(emu).get(user["id"]) is tap:
            del _taps(emu)[user["id"]]
    return Response(204)


# the person's own sign-in (tests): a TAP, then a passkey registered at My Security Info


def sign_in_with_tap(emu: EntraEmulator, upn: str, secret: str) -> dict[str, Any]:
    """Accept ``secret`` as ``upn``'s TAP once (when live and not used up); the user, else GraphError 400."""
    user = require_user(emu, upn)
    with emu.tenant.lock:
        tap = _taps(emu).get(user["id"])
        if tap is None or not secrets.compare_digest(tap.secret.encode(), secret.encode()):
            raise bad_request("The Temporary Access Pass is wrong or was removed.", "invalidTemporaryAccessPass")
        reason = tap.reason(emu.clock())
        if reason != "EnabledByPolicy":
            raise bad_request(f"The Temporary Access Pass cannot be used: {reason}.", "invalidTemporaryAccessPass")
        tap.used = True
    return user


@route(ROUTES, "POST", r"/_emulator/tap/register-passkey", versions=None)
def register_with_tap(emu: EntraEmulator, req: Request, m: re.Match[str]) -> Response:
    """Body: upn, temporaryAccessPass, aaGuid, displayName (optional) — the person's self-service setup."""
    body = req.json()
    if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in
                                             ("upn", "temporaryAccessPass", "aaGuid")):
        raise bad_request("Give upn, temporaryAccessPass and aaGuid as strings.")
    user = sign_in_with_tap(emu, body["upn"], body["temporaryAccessPass"])
    credential_id = secrets.token_bytes(32)
    aaguid = body["aaGuid"].lower()
    with emu.tenant.lock:
        method = Fido2Method(
            id=f"self-{credential_id.hex()[:24]}", user_id=user["id"], credential_id=credential_id,
            display_name=str(body.get("displayName") or "Security key"), created=emu.clock(), aaguid=aaguid,
            model=emu.tenant.models.get(aaguid), attestation_level="attested", attestation_certificates=[])
        emu.tenant.add_method(method)
    return Response(201, method.to_graph())
