"""Reading creationOptions as real tenants send them: bare or wrapped, with mixed encodings."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from station.entra.codec import url_token_encode
from station.entra.passkeys import parse_creation_options
from station.errors import GraphError, Reason

CHALLENGE = b'{"alg":"RS256"}.payload.signature'
USER_HANDLE = bytes(range(32))
CRED_A = bytes(range(64))
CRED_B = bytes(range(100, 164))


def body() -> dict[str, Any]:
    return {
        "challengeTimeoutDateTime": "2026-03-01T12:05:00Z",
        "publicKey": {
            "challenge": base64.b64encode(CHALLENGE).decode(),
            "timeout": 0,
            "attestation": "direct",
            "rp": {"id": "login.microsoft.com", "name": "Microsoft"},
            "user": {"id": base64.urlsafe_b64encode(USER_HANDLE).decode().rstrip("="), "displayName": "Kim",
                     "name": "kim@contoso.com"},
            "pubKeyCredParams": [{"type": "public-key", "alg": -7}, {"type": "public-key", "alg": -257}],
            "excludeCredentials": [
                {"id": base64.b64encode(CRED_A).decode(), "type": "public-key", "transports": []},
                {"id": url_token_encode(CRED_B), "type": "public-key", "transports": [],
                 "@odata.type": "#microsoft.graph.publicKeyCredentialDescriptor"},
            ],
            "authenticatorSelection": {"authenticatorAttachment": "cross-platform", "requireResidentKey": True,
                                       "userVerification": "required"},
            "extensions": {"hmacCreateSecret": True, "enforceCredentialProtectionPolicy": True,
                           "credentialProtectionPolicy": "userVerificationOptional"},
        },
    }


@pytest.mark.parametrize("wrapped", [False, True])
def test_bare_and_wrapped_bodies_read_the_same(wrapped: bool) -> None:
    opts = parse_creation_options("kim@contoso.com", {"value": body()} if wrapped else body())
    assert opts.challenge == CHALLENGE
    assert opts.user_handle == USER_HANDLE
    assert opts.rp_id == "login.microsoft.com"
    assert opts.expires_at == datetime(2026, 3, 1, 12, 5, tzinfo=UTC)
    assert CRED_A in opts.exclude_credentials and CRED_B in opts.exclude_credentials
    assert opts.public_key["extensions"]["credentialProtectionPolicy"] == "userVerificationOptional"


def test_expiry() -> None:
    opts = parse_creation_options("kim", body())
    assert not opts.expired(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    assert opts.expired(datetime(2026, 3, 1, 12, 4, tzinfo=UTC), margin=timedelta(minutes=1))
    assert opts.expired(datetime(2026, 3, 1, 12, 5, tzinfo=UTC))


@pytest.mark.parametrize("broken", ["no_public_key", "bad_challenge", "no_expiry"])
def test_unusable_options_are_a_graph_error(broken: str) -> None:
    b = body()
    if broken == "no_public_key":
        del b["publicKey"]
    elif broken == "bad_challenge":
        b["publicKey"]["challenge"] = "not*base64"
    else:
        del b["challengeTimeoutDateTime"]
    with pytest.raises(GraphError) as e:
        parse_creation_options("kim", b)
    assert e.value.reason == Reason.GRAPH_BAD_REQUEST
