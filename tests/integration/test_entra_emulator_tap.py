"""The emulator's Temporary Access Pass endpoints over real HTTPS with a real msal token: the pass is returned
once, one live TAP per user (a new one replaces the old), the policy's lifetime limits, the permission, and a
person's own sign-in with the TAP that registers a passkey which then shows in their fido2Methods."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from test_entra_emulator_passkeys import Graph

from station_emulator.entra import EntraEmulator
from station_emulator.entra.routes_admin import ADMIN_HEADER

TAP_POLICY = "/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/temporaryAccessPass"
AAGUID = "ee882879-721c-4913-9775-3dfcce97072a"


@pytest.fixture
def emu() -> Iterator[EntraEmulator]:
    with EntraEmulator(users=4, seed=31) as e:
        yield e


def taps_path(user: str) -> str:
    return f"/v1.0/users/{user}/authentication/temporaryAccessPassMethods"


def sign_in(graph: Graph, upn: str, tap: str, aaguid: str = AAGUID) -> requests.Response:
    """The person signs in with their TAP at My Security Info and registers a passkey of model ``aaguid``."""
    return graph.session.post(f"{graph.emu.info.graph_url}/_emulator/tap/register-passkey", timeout=30,
                              headers={ADMIN_HEADER: graph.emu.info.client_secret},
                              json={"upn": upn, "temporaryAccessPass": tap, "aaGuid": aaguid})


def first_user(emu: EntraEmulator) -> dict[str, Any]:
    return next(iter(emu.tenant.users.values()))


def test_a_tap_is_shown_once_replaced_by_the_next_and_accepted_once(emu: EntraEmulator) -> None:
    graph = Graph(emu)
    user = first_user(emu)
    made = graph.call("POST", taps_path(user["id"]), json={"lifetimeInMinutes": 60, "isUsableOnce": True})
    assert made.status_code == 201, made.text
    first = made.json()
    assert first["temporaryAccessPass"] and first["isUsable"] and first["isUsableOnce"]
    listed = graph.call("GET", taps_path(user["id"])).json()["value"]
    assert [t["id"] for t in listed] == [first["id"]] and listed[0]["temporaryAccessPass"] is None

    second = graph.call("POST", taps_path(user["id"]), json={"lifetimeInMinutes": 60, "isUsableOnce": True}).json()
    assert [t["id"] for t in graph.call("GET", taps_path(user["id"])).json()["value"]] == [second["id"]]
    assert sign_in(graph, user["userPrincipalName"], first["temporaryAccessPass"]).status_code == 400, \
        "the replaced TAP no longer signs in"

    registered = sign_in(graph, user["userPrincipalName"], second["temporaryAccessPass"])
    assert registered.status_code == 201, registered.text
    methods = graph.call("GET", f"/v1.0/users/{user['id']}/authentication/fido2Methods").json()["value"]
    assert [m["aaGuid"] for m in methods] == [AAGUID]
    again = sign_in(graph, user["userPrincipalName"], second["temporaryAccessPass"])
    assert again.status_code == 400 and "OneTimeUsed" in again.text
    state = graph.call("GET", f"{taps_path(user['id'])}/{second['id']}").json()
    assert state["methodUsabilityReason"] == "OneTimeUsed" and not state["isUsable"]
    assert graph.call("DELETE", f"{taps_path(user['id'])}/{second['id']}").status_code == 204
    assert graph.call("GET", taps_path(user["id"])).json()["value"] == []


def test_an_expired_tap_is_refused_and_shown_expired(emu: EntraEmulator) -> None:
    graph = Graph(emu)
    user = first_user(emu)
    tap = graph.call("POST", taps_path(user["id"]), json={"lifetimeInMinutes": 60}).json()
    emu.advance_clock(61 * 60)
    refused = sign_in(graph, user["userPrincipalName"], tap["temporaryAccessPass"])
    assert refused.status_code == 400 and "Expired" in refused.text
    fresh = Graph(emu)  # the first token ran out with the hour
    assert fresh.call("GET", taps_path(user["id"])).json()["value"][0]["methodUsabilityReason"] == "Expired"


def test_policy_limits_and_the_permission(emu: EntraEmulator) -> None:
    graph = Graph(emu)
    user = first_user(emu)
    policy = graph.call("GET", TAP_POLICY).json()
    assert policy["state"] == "enabled" and policy["maximumLifetimeInMinutes"] == 480
    too_long = graph.call("POST", taps_path(user["id"]), json={"lifetimeInMinutes": 481})
    assert too_long.status_code == 400 and "between 60 and 480" in too_long.text
    emu.tenant.tap_policy["state"] = "disabled"
    assert graph.call("POST", taps_path(user["id"]), json={}).status_code == 400
    emu.tenant.tap_policy["state"] = "enabled"
    emu.tenant.app.roles.discard("UserAuthenticationMethod.ReadWrite.All")
    denied = Graph(emu).call("POST", taps_path(user["id"]), json={})
    assert denied.status_code == 403
