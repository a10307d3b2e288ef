"""``EntraClient``: the one object the rest of Station uses to talk to Entra ID, built from the Config."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType

from station.config import Config, TenantSection
from station.entra.auth import MICROSOFT_AUTHORITY_HOSTS, TokenProvider
from station.entra.directory import Directory
from station.entra.http import GraphHttp, make_session
from station.entra.passkeys import Passkeys
from station.entra.policy import Finding, read_policy, review
from station.entra.retry import RetryPolicy
from station.entra.transport import origin
from station.errors import ConfigError


def redirect_hosts(tenant: TenantSection) -> set[str]:
    """Where a redirect may lead: the configured Graph and authority hosts, and Microsoft's sign-in hosts."""
    return {origin(tenant.graph_host), origin(tenant.authority_host),
            *(f"{host}:443" for host in MICROSOFT_AUTHORITY_HOSTS)}


class EntraClient:
    def __init__(
        self,
        cfg: Config,
        *,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        tenant = cfg.tenant
        if not tenant.configured:
            raise ConfigError("no tenant configured",
                              problems=["tenant.tenant_id and tenant.client_id: set both"])
        self.allowed_aaguids = list(cfg.enrolment.allowed_aaguids)
        self.session = make_session(tenant.ca_file, redirect_hosts=redirect_hosts(tenant),
                                    deadline=tenant.call_deadline, max_bytes=tenant.max_response_bytes)
        self.tokens = TokenProvider(tenant, self.session)
        self.http = GraphHttp(self.session, tenant.graph_host, tenant.graph_version, self.tokens,
                              timeout=(tenant.connect_timeout, tenant.read_timeout), retry=retry,
                              sleep=sleep, clock=clock)
        self.directory = Directory(self.http)
        self.passkeys = Passkeys(self.http, tenant.challenge_timeout_minutes, rp_id=tenant.rp_id)

    @classmethod
    def from_config(cls, cfg: Config, **kw: object) -> EntraClient:
        return cls(cfg, **kw)  # type: ignore[arg-type]

    def preflight(self) -> list[Finding]:
        """Read the FIDO2 policy and report what would make registrations fail."""
        return review(read_policy(self.http), self.allowed_aaguids)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> EntraClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
