"""The emulator's own control endpoints under ``/_emulator/`` (header ``X-Emulator-Secret: <client secret>``).

They let another process steer a running emulator: faults, token revocation, the clock, app roles,
and reading the request log.
"""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING, Any

from station_emulator.entra.protocol import Request, Response, Route, bad_request, route

if TYPE_CHECKING:
    from station_emulator.entra.server import EntraEmulator

ROUTES: list[Route] = []
ADMIN_HEADER = "X-Emulator-Secret"


def _object(req: Request) -> dict[str, Any]:
    body = req.json()
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    return body


@route(ROUTES, "GET", r"/_emulator/info", versions=None)
def info(emu: EntraEmulator, req: Request, m: re.Match[str]) -> Response:
    return Response(200, dataclasses.asdict(emu.info) | {"client_secret": None})


@route(ROUTES, "GET", r"/_emulator/requests", versions=None)
def requests_log(emu: EntraEmulator, req: Request, m: re.Match[str]) -> Response:
    since = int(req.query.get("since", "0"))
    entries = emu.request_log[since:]
    return Response(200, {"value": [dataclasses.asdict(e) for e in entries], "next": since + len(entries)})


@route(ROUTES, "GET", r"/_emulator/faults", versions=None)
def get_faults(emu: EntraEmulator, req: Request, m: re.Match[str]) -> Response:
    return Response(200, emu.faults.settings())


@route(ROUTES, "PATCH", r"/_emulator/faults", versions=None)
def set_faults(emu: EntraEmulator, req: Request, m: re.Match[str]) -> Response:
    emu.faults.update(_object(req))
    return Response(200, emu.faults.settings())


@route(ROUTES, "POST", r"/_emulator/faults/inject", versions=None)
def inject(emu: EntraEmulator, req: Request, m: re.Match[str]) -> Response:
    body = _object(req)
    emu.faults.inject(int(body["status"]), count=int(body.get("count", 1)), path=body.get("path"),
                      method=body.get("method"), retry_after=body.get("retry_after"))
    return Response(200, emu.faults.settings())


@route(ROUTES, "POST", r"/_emulator/faults/lose", versions=None)
def lose(emu: EntraEmulator, req: Request, m: re.Match[str]) -> Response:
    body = _object(req)
    emu.faults.lose_next_response(body.get("path"), body.get("method"), count=int(body.get("count", 1)))
    return Response(200, emu.faults.settings())


@route(ROUTES, "POST", r"/_emulator/faults/clear", versions=None)
def clear(emu: EntraEmulator, req: Request, m: re.Match[str]) -> Response:
    emu.faults.clear()
    return Response(200, emu.faults.settings())


@route(ROUTES, "POST", r"/_emulator/tokens/revoke", versions=None)
def revoke(emu: EntraEmulator, req: Request, m: re.Match[str]) -> Response:
    return Response(200, {"revoked": emu.faults.revoke_tokens()})


@route(ROUTES, "POST", r"/_emulator/clock", versions=None)
def clock(emu: EntraEmulator, req: Request, m: re.Match[str]) -> Response:
    emu.advance_clock(float(_object(req).get("advance_seconds", 0)))
    return Response(200, {"now": emu.clock()})


@route(ROUTES, "PATCH", r"/_emulator/app", versions=None)
def app(emu: EntraEmulator, req: Request, m: re.Match[str]) -> Response:
    body = _object(req)
    if "roles" in body:
        emu.tenant.app.roles = {str(r) for r in body["roles"]}
    if "certificates" in body:
        for pem in body["certificates"]:
            emu.tenant.app.add_certificate(str(pem).encode())
    return Response(200, {"roles": sorted(emu.tenant.app.roles)})
