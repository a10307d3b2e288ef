"""Access tokens: issued for client credentials (secret or certificate assertion), checked on every Graph call.

Tokens are HS256 JWTs with Entra's claims (aud, iss, tid, appid, roles, exp); the emulator keeps the
ids of the tokens it issued so that it can revoke them all at once.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from station_emulator.entra.protocol import GraphError, iso_time
from station_emulator.entra.tenant import AppRegistration

GRAPH_AUDIENCE = "https://graph.microsoft.com"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_ALGORITHMS = ["RS256", "PS256"]
CLOCK_SKEW = 300.0


class AuthError(Exception):
    """A token-endpoint error in Entra's shape: ``error``, ``error_description`` starting with AADSTS code."""

    def __init__(self, status: int, error: str, code: int, description: str):
        super().__init__(f"AADSTS{code}: {description}")
        self.status = status
        self.error = error
        self.code = code
        self.description = description

    def body(self, now: float, trace_id: str, correlation_id: str) -> dict[str, Any]:
        timestamp = iso_time(now)
        return {
            "error": self.error,
            "error_description": (f"AADSTS{self.code}: {self.description} Trace ID: {trace_id} "
                                  f"Correlation ID: {correlation_id} Timestamp: {timestamp}"),
            "error_codes": [self.code],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": f"https://login.microsoftonline.com/error?code={self.code}",
        }


def _thumbprint(header: Mapping[str, Any], name: str) -> bytes | None:
    value = header.get(name)
    if not isinstance(value, str):
        return None
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except ValueError:
        return None


class TokenIssuer:
    def __init__(self, *, tenant_id: str, app: AppRegistration, token_endpoint: str,
                 clock: Callable[[], float], lifetime: float = 3599.0):
        self.tenant_id = tenant_id
        self.app = app
        self.token_endpoint = token_endpoint
        self.clock = clock
        self.lifetime = lifetime
        self._key = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._live: set[str] = set()
        self._revoked: set[str] = set()

    # token endpoint

    def issue(self, form: Mapping[str, str]) -> dict[str, Any]:
        """Answer a token request (form fields) or raise AuthError."""
        grant = form.get("grant_type")
        if grant != "client_credentials":
            raise AuthError(400, "unsupported_grant_type", 70003,
                            f"The app requested an unsupported grant type '{grant}'.")
        client_id = form.get("client_id", "")
        if client_id.lower() != self.app.client_id.lower():
            raise AuthError(400, "unauthorized_client", 700016,
                            f"Application with identifier '{client_id}' was not found in the directory "
                            f"'{self.tenant_id}'.")
        scope = form.get("scope", "")
        if GRAPH_SCOPE not in scope.split():
            raise AuthError(400, "invalid_scope", 1002012,
                            f"The provided value for scope {scope} is not valid. Client credential flows must "
                            "have a scope value with /.default suffixed to the resource identifier.")
        if "client_secret" in form:
            if not hmac.compare_digest(form["client_secret"].encode(), self.app.client_secret.encode()):
                raise AuthError(401, "invalid_client", 7000215,
                                "Invalid client secret provided. Ensure the secret being sent in the request is "
                                f"the client secret value, not the client secret ID, for a secret added to app "
                                f"'{self.app.client_id}'.")
        elif "client_assertion" in form:
            if form.get("client_assertion_type") != CLIENT_ASSERTION_TYPE:
                raise AuthError(400, "invalid_request", 900144,
                                "The request body must contain the following parameter: "
                                "'client_assertion_type'.")
            self._verify_assertion(form["client_assertion"])
        else:
            raise AuthError(401, "invalid_client", 7000218,
                            "The request body must contain the following parameter: 'client_assertion' or "
                            "'client_secret'.")
        return {"token_type": "Bearer", "expires_in": int(self.lifetime), "ext_expires_in": int(self.lifetime),
                "access_token": self._mint()}

    def _verify_assertion(self, assertion: str) -> None:
        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.InvalidTokenError as e:
            raise AuthError(401, "invalid_client", 50027, f"JWT token is invalid or malformed: {e}.") from e
        cert = self.app.certificate_for(sha1=_thumbprint(header, "x5t"), sha256=_thumbprint(header, "x5t#S256"))
        if cert is None:
            raise AuthError(401, "invalid_client", 700027,
                            "Client assertion contains an invalid signature. [Reason - The key was not found.]")
        public_key = cert.public_key()
        if not isinstance(public_key, rsa.RSAPublicKey):
            raise AuthError(401, "invalid_client", 700027, "Client assertion uses an unsupported key type.")
        try:
            claims = jwt.decode(assertion, public_key, algorithms=ASSERTION_ALGORITHMS,
                                audience=self.token_endpoint, options={"verify_exp": False, "verify_nbf": False,
                                                                       "verify_iat": False})
        except jwt.InvalidAudienceError as e:
            raise AuthError(401, "invalid_client", 700212,
                            f"No matching federated identity record found for presented assertion audience "
                            f"'{self.token_endpoint}'.") from e
        except jwt.InvalidTokenError as e:
            raise AuthError(401, "invalid_client", 700027,
                            f"Client assertion failed signature validation. [Reason - {e}]") from e
        if claims.get("iss") != self.app.client_id or claims.get("sub") != self.app.client_id:
            raise AuthError(401, "invalid_client", 700021,
                            "Client assertion application identifier doesn't match 'client_id' parameter.")
        now = self.clock()
        if not (float(claims.get("nbf", claims.get("iat", 0))) - CLOCK_SKEW <= now
                <= float(claims.get("exp", 0)) + CLOCK_SKEW):
            raise AuthError(401, "invalid_client", 700024, "Client assertion is not within its valid time range.")

    def _mint(self) -> str:
        now = self.clock()
        jti = str(uuid.uuid4())
        claims = {
            "aud": GRAPH_AUDIENCE, "iss": f"https://sts.windows.net/{self.tenant_id}/", "tid": self.tenant_id,
            "appid": self.app.client_id, "idtyp": "app", "oid": self.app.client_id,
            "roles": sorted(self.app.roles), "iat": int(now), "nbf": int(now),
            "exp": int(now + self.lifetime), "uti": jti,
        }
        with self._lock:
            self._live.add(jti)
        return jwt.encode(claims, self._key, algorithm="HS256")

    # Graph side

    def check(self, authorization: str | None) -> dict[str, Any]:
        """The claims of a valid bearer token, or GraphError 401 InvalidAuthenticationToken."""
        if not authorization or not authorization.lower().startswith("bearer "):
            raise _invalid_token("Access token is empty.")
        token = authorization[7:].strip()
        try:
            claims = jwt.decode(token, self._key, algorithms=["HS256"], audience=GRAPH_AUDIENCE,
                                options={"verify_exp": False, "verify_nbf": False, "verify_iat": False})
        except jwt.InvalidAudienceError:
            raise _invalid_token("Access token validation failure. Invalid audience.") from None
        except jwt.InvalidTokenError:
            raise _invalid_token("IDX14100: JWT is not well formed, there are no dots (.).") from None
        with self._lock:
            if claims.get("uti") in self._revoked:
                raise _invalid_token("Continuous access evaluation resulted in challenge with result: "
                                     "InteractionRequired and code: TokenIssuedBeforeRevocationTimestamp")
        if self.clock() >= float(claims["exp"]):
            raise _invalid_token("Lifetime validation failed, the token is expired.")
        return claims

    def revoke_all(self) -> int:
        """Revoke every token issued so far; returns how many."""
        with self._lock:
            count = len(self._live)
            self._revoked |= self._live
            self._live = set()
            return count


def _invalid_token(message: str) -> GraphError:
    return GraphError(401, "InvalidAuthenticationToken", message,
                      headers={"WWW-Authenticate": 'Bearer realm="", error="invalid_token"'})
