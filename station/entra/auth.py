"""App-only tokens for Graph: msal ConfidentialClientApplication with a client secret or a certificate.

msal keeps the token in its in-memory cache and fetches a new one ahead of expiry; ``invalidate`` drops
the cached token after Graph answered 401, so the next call authenticates afresh. ``reload_credential``
re-reads the secret or certificate files (the daemon's SIGHUP): when they changed, the next token is
requested with the new credential.
"""

from __future__ import annotations

import logging
import threading
from typing import Any
from urllib.parse import urlsplit

import msal
import requests

from station.config import TenantSection, read_secret
from station.errors import AuthError, ConfigError

log = logging.getLogger(__name__)

MICROSOFT_AUTHORITY_HOSTS = (
    "login.microsoftonline.com",
    "login.microsoftonline.us",
    "login.chinacloudapi.cn",
    "login.partner.microsoftonline.cn",
    "login.microsoft.com",
    "login.windows.net",
    "login.sovcloud-identity.fr",
    "login.sovcloud-identity.de",
    "login.sovcloud-identity.sg",
)
_AUTH_REMEDIES = {
    "invalid_client": "Check the client secret or certificate: it is wrong, expired, or not uploaded to the "
                      "app registration.",
    "unauthorized_client": "Check the client id: the application is not registered in this tenant.",
    "invalid_request": "Check the tenant id and client id in the configuration.",
    "invalid_scope": "Check tenant.graph_host: the token scope is derived from it.",
}


GLOBAL_GRAPH = "https://graph.microsoft.com"
SOVEREIGN_GRAPH_DOMAINS = (".microsoft.com", ".microsoft.us", ".chinacloudapi.cn", ".microsoft.scloud",
                           ".microsoft.eaglex.ic.gov")


def graph_scope(graph_host: str) -> str:
    """The ``.default`` scope of the Graph host's cloud. A host outside Microsoft's clouds (the emulator, a
    proxy) stands in for global Graph, whose resource identifier it keeps."""
    host = urlsplit(graph_host).hostname or ""
    if any(f".{host}".endswith(domain) for domain in SOVEREIGN_GRAPH_DOMAINS):
        return f"{graph_host.rstrip('/')}/.default"
    return f"{GLOBAL_GRAPH}/.default"


def load_credential(tenant: TenantSection) -> str | dict[str, str]:
    """The client credential msal expects: a secret string, or a private key with its certificate."""
    if tenant.certificate_file or tenant.private_key_file:
        if not (tenant.certificate_file and tenant.private_key_file):
            raise ConfigError(
                "certificate authentication needs both tenant.certificate_file and tenant.private_key_file",
                problems=["tenant.certificate_file / tenant.private_key_file: set both, or neither"],
            )
        key = read_secret(tenant.private_key_file, "private key").decode("utf-8")
        try:
            with open(tenant.certificate_file, encoding="utf-8") as f:
                cert = f.read()
        except OSError as e:
            raise ConfigError(
                f"cannot read the certificate {tenant.certificate_file}: {e.strerror}",
                problems=[f"tenant.certificate_file: {e}"],
            ) from None
        return {"private_key": key, "public_certificate": cert}
    if tenant.client_secret_file:
        return read_secret(tenant.client_secret_file, "client secret").decode("utf-8").strip()
    raise ConfigError(
        "no client credential configured",
        problems=["tenant: set client_secret_file, or certificate_file and private_key_file"],
    )


class _TimeoutSession:
    """The shared session as msal's http_client, with Station's timeouts on every token call."""

    def __init__(self, session: requests.Session, timeout: tuple[float, float]) -> None:
        self._session = session
        self._timeout = timeout

    def get(self, url: str, **kw: Any) -> requests.Response:
        kw.setdefault("timeout", self._timeout)
        return self._session.get(url, **kw)

    def post(self, url: str, **kw: Any) -> requests.Response:
        kw.setdefault("timeout", self._timeout)
        return self._session.post(url, **kw)

    def close(self) -> None:
        """The session belongs to the client; msal must not close it."""


class TokenProvider:
    """Hands out a valid Graph access token; thread-safe."""

    def __init__(self, tenant: TenantSection, session: requests.Session) -> None:
        self.authority = f"{tenant.authority_host}/{tenant.tenant_id}"
        self.scope = graph_scope(tenant.graph_host)
        self._tenant = tenant
        self._session = session
        self._timeout = (tenant.connect_timeout, tenant.read_timeout)
        self._app: msal.ConfidentialClientApplication | None = None
        self._credential: str | dict[str, str] | None = None
        self._lock = threading.Lock()

    def reload_credential(self) -> bool:
        """Re-read the credential files; True when they changed (the cached token is dropped with the old
        credential, so the next token uses the new one). Raises StationError, keeping the credential in
        use, when the files cannot be read."""
        credential = load_credential(self._tenant)
        with self._lock:
            if self._credential is None or credential == self._credential:
                self._credential = credential
                return False
            self._credential = credential
            self._app = None
        return True

    def _application(self) -> msal.ConfidentialClientApplication:
        if self._app is None:
            host = urlsplit(self._tenant.authority_host).hostname or ""
            if self._credential is None:
                self._credential = load_credential(self._tenant)
            try:
                self._app = msal.ConfidentialClientApplication(
                    self._tenant.client_id,
                    client_credential=self._credential,
                    authority=self.authority,
                    instance_discovery=host in MICROSOFT_AUTHORITY_HOSTS,
                    http_client=_TimeoutSession(self._session, self._timeout),
                    token_cache=msal.TokenCache(),
                )
            except ValueError as e:
                raise AuthError(
                    f"cannot set up authentication against {self.authority}: {e}",
                    remedy="Check tenant.authority_host, tenant.tenant_id and the certificate/key pair.",
                ) from None
            except requests.RequestException as e:
                raise AuthError(
                    f"cannot reach the authority {self.authority}: {type(e).__name__}",
                    retryable=True,
                    remedy="Check the network, tenant.authority_host and tenant.ca_file.",
                ) from None
        return self._app

    def token(self) -> str:
        """A cached token if still fresh, else a new one. Raises AuthError with the authority's reason."""
        with self._lock:
            app = self._application()
            try:
                result = app.acquire_token_for_client(scopes=[self.scope])
            except requests.RequestException as e:
                raise AuthError(
                    f"cannot reach the authority {self.authority}: {type(e).__name__}",
                    retryable=True,
                    remedy="Check the network, tenant.authority_host and tenant.ca_file.",
                ) from None
        if "access_token" not in result:
            code = str(result.get("error", "unknown_error"))
            description = str(result.get("error_description", "")).splitlines()[0:1]
            raise AuthError(
                f"the authority refused a token: {code}: {' '.join(description)}",
                code=code,
                body={k: v for k, v in result.items() if k in ("error", "error_description", "error_codes")},
                remedy=_AUTH_REMEDIES.get(code, AuthError.remedy),
            )
        log.debug("token ready (source %s)", result.get("token_source", "unknown"))
        return str(result["access_token"])

    def invalidate(self) -> None:
        """Forget the cached access token (Graph said it is no longer valid)."""
        with self._lock:
            if self._app is None:
                return
            cache = self._app.token_cache
            for item in list(cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)):
                cache.remove_at(item)
        log.info("cached Graph token dropped after 401; authenticating again")
