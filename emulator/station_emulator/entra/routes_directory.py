"""Graph directory endpoints: users (list, get, create, update, delete, delta) and groups with members."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from station_emulator.entra.protocol import (
    Request,
    Response,
    Route,
    bad_request,
    decode_skiptoken,
    encode_skiptoken,
    not_found,
    page_size,
    paged,
    parse_filter,
    route,
    select,
)
from station_emulator.entra.tenant import GROUP_DEFAULT_PROPERTIES, USER_DEFAULT_PROPERTIES, Group

if TYPE_CHECKING:
    from station_emulator.entra.server import EntraEmulator

ROUTES: list[Route] = []
USER_READ = ("User.Read.All", "User.ReadWrite.All", "Directory.Read.All")
USER_WRITE = ("User.ReadWrite.All",)
MEMBER_READ = ("GroupMember.Read.All", "Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All")
GROUP_WRITE = ("Group.ReadWrite.All", "GroupMember.ReadWrite.All")
USER_FILTERABLE = ("userPrincipalName", "displayName", "mail", "givenName", "surname", "id")
_UNSUPPORTED_QUERY = "Request_UnsupportedQuery"


def _advanced_query(req: Request) -> bool:
    return (req.header("ConsistencyLevel") or "").lower() == "eventual"


def _count_requested(req: Request) -> bool:
    requested = req.query.get("$count", "").lower() == "true"
    if requested and not _advanced_query(req):
        raise bad_request("$count is not currently supported without the header ConsistencyLevel: eventual.",
                          _UNSUPPORTED_QUERY)
    return requested


def require_user(emu: EntraEmulator, key: str) -> dict[str, Any]:
    user = emu.tenant.user(unquote(key))
    if user is None:
        raise not_found(unquote(key))
    return user


# users


@route(ROUTES, "GET", r"/users", roles=USER_READ)
def list_users(emu: EntraEmulator, req: Request, m: re.Match[str]) -> Response:
    flt = parse_filter(req, USER_FILTERABLE)
    counted = _count_requested(req)
    with emu.tenant.lock:
        users = [u for u in emu.tenant.users.values() if flt is None or flt.matches(u)]
        return paged(req, users, "/users", lambda u: select(u, req, USER_DEFAULT_PROPERTIES),
                     extra={"@odata.count": len(users)} if counted else None)


@route(ROUTES, "GET", r"/users/delta(?:\(\))?", roles=USER_READ)
def users_delta(emu: EntraEmulator, req: Request, m: re.Match[str]) -> Response:
    """Key-set paged rounds: ``$skiptoken`` continues a round, ``$deltatoken`` starts the next one."""
    tenant = emu.tenant
    prefer = re.search(r"odata\.maxpagesize=(\d+)", req.header("Prefer") or "")
    size = page_size(req) if "$top" in req.query else min(int(prefer[1]), 999) if prefer else 200
    if "$skiptoken" in req.query:
        state = decode_skiptoken(req.query["$skiptoken"])
        since, upto, after = state.get("s"), int(state["u"]), str(state["a"])
    elif "$deltatoken" in req.query:
        since, upto, after = int(decode_skiptoken(req.query["$deltatoken"])["u"]), tenant.change_sequence, ""
    else:
        since, upto, after = None, tenant.change_sequence, ""
    with tenant.lock:
        changes, more = tenant.delta_page(since, upto, after, size)
        value = [{"id": uid, "@removed": {"reason": "changed"}} if removed
                 else select(tenant.users[uid], req, USER_DEFAULT_PROPERTIES) for uid, removed in changes]
    query = {k: v for k, v in req.query.items() if k in ("$select",)}
    body: dict[str, Any] = {"@odata.context": f"{req.base_url}/{req.version}/$metadata#users"}
    if more:
        last = changes[-1][0] if changes else after
        query["$skiptoken"] = encode_skiptoken({"s": since, "u": upto, "a": last})
        body["@odata.nextLink"] = req.graph_url("/users/delta()", query)
    else:
        query["$deltatoken"] = encode_skiptoken({"u": upto})
        body["@odata.deltaLink"] = req.graph_url("/users/delta()", query)
    body["value"] = value
    return Response(200, body)


@route(ROUTES, "GET", r"/users/(?P<key>[^/]+)", roles=USER_READ)
def get_user(emu: EntraEmulator, req: Request, m: re.Match[str]) -> Response:
    user = require_user(emu, m["key"])
    body = {"@odata.context": f"{req.base_url}/{req.version}/$metadata#users/$entity",
            **select(user, req, USER_DEFAULT_PROPERTIES)}
    return Response(200, body)


@route(ROUTES, "POST", r"/users", roles=USER_WRITE)
def create_user(emu: EntraEmulator, req: Request, m: re.Match[str]) -> Response:
    body = req.json()
    if not isinstance(body, dict) or not isinstance(body.get("userPrincipalName"), str) \
            or not isinstance(body.get("displayName"), str):
        raise bad_request("Property userPrincipalName and displayName are required.", "Request_BadRequest")
    if emu.tenant.user(body["userPrincipalName"]) is not None:
        raise bad_request("Another object with the same value for property userPrincipalName already exists.",
                          "Request_BadRequest")
    props = {k: v for k, v in body.items() if k not in ("id", "@odata.type", "passwordProfile")}
    props.setdefault("mail", body["userPrincipalName"])
    user = emu.tenant.add_user({**props, "id": str(uuid.uuid4())})
    return Response(201, select(user, req, USER_DEFAULT_PROPERTIES))


@route(ROUTES, "PATCH", r"/users/(?P<key>[^/]+)", roles=USER_WRITE)
def update_user(emu: EntraEmulator, req: Request, m: re.Match[str]) -> Response:
    user = require_user(emu, m["key"])
    body = req.json()
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.", "Request_BadRequest")
    emu.tenant.update_user(user["id"], {k: v for k, v in body.items() if k not in ("id", "@odata.type")})
    return Response(204)


@route(ROUTES, "DELETE", r"/users/(?P<key>[^/]+)", roles=USER_WRITE)
def delete_user(emu: EntraEmulator, req: Request, m: re.Match[str]) -> Response:
    user = require_user(emu, m["key"])
    emu.tenant.remove_user(user["id"])
    return Response(204)


# groups


def require_group(emu: EntraEmulator, key: str) -> Group:
    group = emu.tenant.group(unquote(key))
    if group is None:
        raise not_found(unquote(key))
    return group


@route(ROUTES, "GET", r"/groups", roles=MEMBER_READ)
def list_groups(emu: EntraEmulator, req: Request, m: re.Match[str]) -> Response:
    flt = parse_filter(req, ("displayName", "id", "mailNickname"))
    counted = _count_requested(req)
    with emu.tenant.lock:
        groups = [g.to_graph() for g in emu.tenant.groups.values()]
    items = [g for g in groups if flt is None or flt.matches(g)]
    return paged(req, items, "/groups", lambda g: select(g, req, GROUP_DEFAULT_PROPERTIES),
                 extra={"@odata.count": len(items)} if counted else None)


@route(ROUTES, "GET", r"/groups/(?P<key>[^/]+)", roles=MEMBER_READ)
def get_group(emu: EntraEmulator, req: Request, m: re.Match[str]) -> Response:
    group = require_group(emu, m["key"])
    return Response(200, select(group.to_graph(), req, GROUP_DEFAULT_PROPERTIES))


@route(ROUTES, "GET",
       r"/groups/(?P<key>[^/]+)/(?P<kind>members|transitiveMembers)(?:/microsoft\.graph\.(?P<cast>user|group))?",
       roles=MEMBER_READ)
def group_members(emu: EntraEmulator, req: Request, m: re.Match[str]) -> Response:
    group = require_group(emu, m["key"])
    cast = (m["cast"] or "").lower()
    counted = _count_requested(req)
    if (cast or "$filter" in req.query) and not (_advanced_query(req) and counted):
        raise bad_request("The specified filter to the reference property query is currently not supported. "
                          "Use the header ConsistencyLevel: eventual with $count=true.", _UNSUPPORTED_QUERY)
    flt = parse_filter(req, USER_FILTERABLE)
    # The first page resolves the membership once; its nextLinks name that listing, so a large group is
    # not walked again for every page.
    listing = decode_skiptoken(req.query["$skiptoken"]).get("l") if "$skiptoken" in req.query else None
    objects = emu.tenant.listing(listing) if isinstance(listing, str) else None
    if objects is None:
        transitive = m["kind"].lower() == "transitivemembers"
        objects = emu.tenant.transitive_member_objects(group) if transitive else emu.tenant.member_objects(group)
        if cast:
            objects = [o for o in objects if o.get("@odata.type") == f"#microsoft.graph.{cast}"]
        if flt is not None:
            objects = [o for o in objects if flt.matches(o)]
        listing = emu.tenant.remember_listing(objects)

    def render(obj: Mapping[str, Any]) -> dict[str, Any]:
        user = obj.get("@odata.type") == "#microsoft.graph.user"
        return select(obj, req, USER_DEFAULT_PROPERTIES if user else GROUP_DEFAULT_PROPERTIES, typed=not cast)

    return paged(req, objects, req.path, render, extra={"@odata.count": len(objects)} if counted else None,
                 token={"l": listing})


@route(ROUTES, "POST", r"/groups/(?P<key>[^/]+)/members/\$ref", roles=GROUP_WRITE)
def add_member(emu: EntraEmulator, req: Request, m: re.Match[str]) -> Response:
    group = require_group(emu, m["key"])
    body = req.json()
    ref = body.get("@odata.id") if isinstance(body, dict) else None
    member_id = str(ref).rstrip("/").rsplit("/", 1)[-1] if ref else ""
    with emu.tenant.lock:
        if member_id not in emu.tenant.users and member_id not in emu.tenant.groups:
            raise not_found(member_id)
        if member_id in group.member_ids:
            raise bad_request("One or more added object references already exist for the following modified "
                              "properties: 'members'.", "Request_BadRequest")
        group.member_ids.append(member_id)
    return Response(204)


@route(ROUTES, "DELETE", r"/groups/(?P<key>[^/]+)/members/(?P<member>[^/]+)/\$ref", roles=GROUP_WRITE)
def remove_member(emu: EntraEmulator, req: Request, m: re.Match[str]) -> Response:
    group = require_group(emu, m["key"])
    with emu.tenant.lock:
        if m["member"] not in group.member_ids:
            raise not_found(m["member"])
        group.member_ids.remove(m["member"])
    return Response(204)
