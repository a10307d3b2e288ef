"""The key-side CTAP calls of one enrolment, straight on python-fido2: PIN, makeCredential, final policy.

``build_request`` turns Graph's creation options into makeCredential arguments (rp, user, algorithms,
excludeList, extensions); ``make_credential`` runs it with a PIN token, checks the key's answer against the
request and the AAGUID inspected at insertion (``attestation_checks``) and returns what Graph needs. The
PIN rules, the last key-side step, are in ``pin_rules``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fido2.ctap2 import ClientPin, Config, Ctap2
from fido2.webauthn import AttestationObject, CollectedClientData

from station.config import EnrolmentSection
from station.enroll import request_fit
from station.enroll.attestation_checks import check_answer
from station.enroll.ports import Options
from station.errors import Reason, StationError
from station.i18n import _

CRED_PROTECT = {
    "userVerificationOptional": 1,
    "userVerificationOptionalWithCredentialIDList": 2,
    "userVerificationRequired": 3,
}
ENTERPRISE_ATTESTATION_PLATFORM_MANAGED = 2


@dataclass(frozen=True)
class CredentialRequest:
    client_data: CollectedClientData
    rp: dict[str, Any]
    user: dict[str, Any]
    key_params: list[Mapping[str, Any]]
    exclude_list: list[Mapping[str, Any]]
    extensions: dict[str, Any]


@dataclass(frozen=True)
class NewCredential:
    credential_id: bytes
    attestation_object: bytes
    client_data_json: bytes
    client_extension_results: dict[str, Any]


def build_request(options: Options, ctap: Ctap2, policy: EnrolmentSection) -> CredentialRequest:
    """makeCredential arguments for ``options``, fitted to the key (``request_fit``); FEATURE_MISSING when
    Graph enforces what the key lacks."""
    pk = options.public_key
    rp_id = options.rp_id
    client_data = CollectedClientData.create(type="webauthn.create", challenge=options.challenge,
                                             origin=f"https://{rp_id}", cross_origin=False)
    user = pk.get("user") or {}
    rp = {"id": rp_id, "name": str((pk.get("rp") or {}).get("name") or rp_id)}
    key_params: list[Mapping[str, Any]] = [
        {"type": "public-key", "alg": int(p["alg"])}
        for p in pk.get("pubKeyCredParams") or [] if p.get("type", "public-key") == "public-key"
    ] or [{"type": "public-key", "alg": -7}]
    wanted = pk.get("extensions") or {}
    supported = set(ctap.info.extensions)
    extensions: dict[str, Any] = {}
    if wanted.get("hmacCreateSecret") and "hmac-secret" in supported:
        extensions["hmac-secret"] = True
    policy_name = wanted.get("credentialProtectionPolicy")
    if policy_name in CRED_PROTECT:
        if "credProtect" in supported:
            extensions["credProtect"] = CRED_PROTECT[policy_name]
        elif wanted.get("enforceCredentialProtectionPolicy") and policy_name != "userVerificationOptional":
            # Without credProtect a credential has level 1 (userVerificationOptional): only more needs the key's help.
            raise StationError(f"Entra ID requires credential protection {policy_name}, which this key lacks",
                               reason=Reason.FEATURE_MISSING, retryable=False,
                               remedy=_("The tenant's passkey options ask for credential protection this key "
                                        "model cannot give (no credProtect). Take a key model with credProtect."))
    if "minPinLength" in supported and rp_id in policy.min_pin_length_rp_ids:
        extensions["minPinLength"] = True
    fitted_user, key_params, exclude_list = request_fit.fit(
        ctap, rp, {"id": options.user_handle, "name": str(user.get("name") or ""),
                   "displayName": str(user.get("displayName") or user.get("name") or "")},
        key_params, options.exclude_credentials, extensions)
    return CredentialRequest(client_data=client_data, rp=rp, user=fitted_user, key_params=key_params,
                             exclude_list=exclude_list, extensions=extensions)


def make_credential(
    ctap: Ctap2,
    client_pin: ClientPin,
    pin: str,
    request: CredentialRequest,
    *,
    enterprise_attestation: bool,
    cancel: threading.Event,
    on_keepalive: Callable[[int], None],
) -> NewCredential:
    token = client_pin.get_pin_token(pin, ClientPin.PERMISSION.MAKE_CREDENTIAL, request.rp["id"])
    client_data_hash = request.client_data.hash
    ep = ENTERPRISE_ATTESTATION_PLATFORM_MANAGED if enterprise_attestation else None
    response = ctap.make_credential(
        client_data_hash,
        request.rp,
        request.user,
        request.key_params,
        exclude_list=request.exclude_list or None,
        extensions=request.extensions or None,
        options={"rk": True},
        pin_uv_param=client_pin.protocol.authenticate(token, client_data_hash),
        pin_uv_protocol=client_pin.protocol.VERSION,
        enterprise_attestation=ep,
        event=cancel,
        on_keepalive=on_keepalive,
    )
    check_answer(response, rp_id=request.rp["id"], client_data_hash=client_data_hash, pin_used=True,
                 inspected_aaguid=bytes(ctap.info.aaguid))
    credential_data = response.auth_data.credential_data
    assert credential_data is not None  # check_answer refused an answer without it
    results: dict[str, Any] = {}
    if "hmac-secret" in request.extensions:
        results["hmacCreateSecret"] = bool((response.auth_data.extensions or {}).get("hmac-secret"))
    attestation = AttestationObject.create(response.fmt, response.auth_data, response.att_stmt)
    return NewCredential(bytes(credential_data.credential_id), bytes(attestation), bytes(request.client_data),
                         results)


def enable_enterprise_attestation(ctap: Ctap2, client_pin: ClientPin, pin: str) -> None:
    token = client_pin.get_pin_token(pin, ClientPin.PERMISSION.AUTHENTICATOR_CFG)
    Config(ctap, client_pin.protocol, token).enable_enterprise_attestation()
