"""Every kind of Graph refusal maps to its reason code and a remedy a person can act on."""

from __future__ import annotations

import pytest

from station.entra import remedies
from station.entra.remedies import diagnose
from station.errors import Reason


@pytest.mark.parametrize(
    ("status", "code", "message", "purpose", "reason", "retryable", "remedy"),
    [
        (401, "InvalidAuthenticationToken", "Access token has expired", "user", Reason.AUTH_FAILED, False,
         remedies.SIGN_IN_AGAIN),
        (429, "TooManyRequests", "Too many requests", "group", Reason.GRAPH_THROTTLED, True, remedies.THROTTLED),
        (503, "serviceNotAvailable", "", "directory", Reason.GRAPH_UNAVAILABLE, True, remedies.UNAVAILABLE),
        (504, "gatewayTimeout", "", "passkeys", Reason.GRAPH_UNAVAILABLE, True, remedies.UNAVAILABLE),
        (403, "accessDenied", "Request Authorization failed", "creation_options", Reason.GRAPH_DENIED, False,
         remedies.GRANT_PASSKEY),
        (403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.", "group",
         Reason.GRAPH_DENIED, False, remedies.GRANT_DIRECTORY),
        (403, "Authorization_RequestDenied", "Insufficient privileges", "policy", Reason.GRAPH_DENIED, False,
         remedies.GRANT_POLICY),
        (404, "Request_ResourceNotFound", "Resource 'kim@contoso.com' does not exist", "creation_options",
         Reason.USER_NOT_FOUND, False, remedies.USER_NOT_FOUND),
        (404, "Request_ResourceNotFound", "Resource does not exist", "group", Reason.NOT_FOUND, False,
         remedies.GROUP_NOT_FOUND),
        (405, "methodNotAllowed", "Method not allowed", "creation_options", Reason.GRAPH_BAD_REQUEST, False,
         remedies.CREATION_OPTIONS_405),
        (400, "invalidRequest", "The FIDO2 method is not enabled for self-service setup", "creation_options",
         Reason.GRAPH_POLICY, False, remedies.ENABLE_SELF_SERVICE),
        (400, "badRequest", "FIDO2 provisioning failed", "creation_options", Reason.GRAPH_POLICY, False,
         remedies.ENABLE_SELF_SERVICE),
        (400, "invalidRequest", "The FIDO2 authentication method is disabled in this tenant", "register",
         Reason.GRAPH_POLICY, False, remedies.ENABLE_FIDO2),
        (400, "badRequest", "The authenticator's AAGUID is blocked by key restrictions", "register",
         Reason.AAGUID_NOT_ALLOWED, False, remedies.AAGUID_REFUSED),
        (400, "badRequest", "Attestation could not be verified against a trusted root", "register",
         Reason.GRAPH_POLICY, False, remedies.ATTESTATION_REFUSED),
        (400, "badRequest", "The challenge has expired", "register", Reason.CHALLENGE_EXPIRED, True,
         remedies.CHALLENGE_EXPIRED),
        (400, "badRequest", "This credential is already registered for the user", "register",
         Reason.ALREADY_REGISTERED, False, remedies.ALREADY_REGISTERED),
        (409, "conflict", "Conflict", "register", Reason.ALREADY_REGISTERED, False, remedies.ALREADY_REGISTERED),
        (400, "badRequest", "The user is not in the targets of the policy", "register", Reason.GRAPH_POLICY,
         False, remedies.ADD_TO_TARGETS),
        (400, "badRequest", "Guest users are not supported", "creation_options", Reason.GRAPH_POLICY, False,
         remedies.GUEST_REFUSED),
        (400, "BadRequest", "Invalid filter clause", "directory", Reason.GRAPH_BAD_REQUEST, False,
         remedies.BAD_REQUEST),
    ],
)
def test_graph_failures_map_to_reasons_and_remedies(
    status: int, code: str, message: str, purpose: remedies.Purpose, reason: Reason, retryable: bool, remedy: str
) -> None:
    d = diagnose(status, code, message, purpose)
    assert (d.reason, d.retryable, d.remedy) == (reason, retryable, remedy)


def test_self_service_remedy_names_the_setting() -> None:
    assert "Allow self-service setup" in remedies.ENABLE_SELF_SERVICE
    assert "UserAuthMethod-Passkey.ReadWrite.All" in remedies.GRANT_PASSKEY
