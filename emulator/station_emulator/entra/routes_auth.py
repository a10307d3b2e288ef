"""The identity endpoints msal uses: OIDC discovery and the v2.0 token endpoint (client credentials)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from station_emulator.entra.protocol import Request, Response, Route, route
from station_emulator.entra.tokens import AuthError

if TYPE_CHECKING:
    from station_emulator.entra.server import EntraEmulator

ROUTES: list[Route] = []


def _check_tenant(emu: EntraEmulator, name: str) -> None:
    if name.lower() not in {emu.tenant.tenant_id.lower(), emu.tenant.domain.lower(), "organizations"}:
        raise AuthError(400, "invalid_request", 90002,
                        f"Tenant '{name}' not found. Check to make sure you have the correct tenant ID and are "
                        "signing into the correct cloud.")


@route(ROUTES, "GET", r"/(?P<tenant>[^/]+)/v2\.0/\.well-known/openid-configuration", versions=None)
def discovery(emu: EntraEmulator, req: Request, m: re.Match[str]) -> Response:
    _check_tenant(emu, m["tenant"])
    authority = emu.info.authority
    return Response(200, {
        "token_endpoint": f"{authority}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": f"{emu.base_url}/{emu.tenant.tenant_id}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"{authority}/v2.0",
        "request_uri_parameter_supported": False,
        "authorization_endpoint": f"{authority}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{authority}/oauth2/v2.0/devicecode",
        "end_session_endpoint": f"{authority}/oauth2/v2.0/logout",
        "tenant_region_scope": "EU",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": emu.base_url.removeprefix("https://"),
    })


@route(ROUTES, "POST", r"/(?P<tenant>[^/]+)/oauth2/v2\.0/token", versions=None)
def token(emu: EntraEmulator, req: Request, m: re.Match[str]) -> Response:
    try:
        _check_tenant(emu, m["tenant"])
        form = dict(parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True))
        return Response(200, emu.tokens.issue(form), {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"})
    except AuthError as e:
        return Response(e.status, e.body(emu.clock(), req.request_id, req.client_request_id or req.request_id))
