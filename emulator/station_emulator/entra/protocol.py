"""HTTP plumbing shared by the emulator's routes: parsed requests, responses, Graph errors, OData options.

A route is a function ``(emulator, request, match) -> Response`` registered with :func:`route` in its
area's module; :class:`GraphError` raised anywhere becomes Graph's error envelope.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from station_emulator.entra.server import EntraEmulator

GRAPH_VERSIONS = ("v1.0", "beta")
MAX_PAGE_SIZE = 999
DEFAULT_PAGE_SIZE = 100
_QUERY_SAFE = "$(),'"


class GraphError(Exception):
    """An error answered in Graph's envelope: ``{"error": {"code", "message", "innerError"}}``."""

    def __init__(self, status: int, code: str, message: str, *, headers: Mapping[str, str] | None = None):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def bad_request(message: str, code: str = "BadRequest") -> GraphError:
    return GraphError(400, code, message)


def not_found(what: str) -> GraphError:
    return GraphError(
        404, "Request_ResourceNotFound",
        f"Resource '{what}' does not exist or one of its queried reference-property objects are not present.",
    )


@dataclass
class Request:
    """One parsed HTTP request. ``path`` has the Graph version stripped; ``version`` holds it."""

    method: str
    path: str
    raw_target: str
    query: dict[str, str]
    headers: Message
    body: bytes
    base_url: str
    request_id: str
    version: str | None = None
    token_claims: dict[str, Any] = field(default_factory=dict)

    @property
    def client_request_id(self) -> str | None:
        return self.headers.get("client-request-id")

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def json(self) -> Any:
        try:
            return json.loads(self.body.decode("utf-8")) if self.body else None
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise bad_request(f"Unable to read JSON request payload: {e}") from e

    def graph_url(self, path: str, query: Mapping[str, str] | None = None) -> str:
        """An absolute URL in this request's Graph version, e.g. for ``@odata.nextLink``."""
        from urllib.parse import urlencode

        url = f"{self.base_url}/{self.version}{path}"
        return f"{url}?{urlencode(query, safe=_QUERY_SAFE)}" if query else url


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> bytes:
        if self.body is None:
            return b""
        return json.dumps(self.body, ensure_ascii=False).encode("utf-8")


Handler = Callable[["EntraEmulator", Request, "re.Match[str]"], Response]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    roles: frozenset[str]
    versions: tuple[str, ...] | None  # None: not under a Graph version (auth, admin)


def route(
    table: list[Route], method: str, pattern: str, *, roles: Iterable[str] = (),
    versions: tuple[str, ...] | None = GRAPH_VERSIONS,
) -> Callable[[Handler], Handler]:
    """Register a handler in ``table`` for ``method`` and a full-match, case-insensitive ``pattern``."""

    def register(handler: Handler) -> Handler:
        table.append(Route(method, re.compile(pattern, re.IGNORECASE), handler, frozenset(roles), versions))
        return handler

    return register


def graph_error_body(error: GraphError, request_id: str, client_request_id: str | None, now: float) -> dict[str, Any]:
    return {"error": {
        "code": error.code,
        "message": error.message,
        "innerError": {
            "date": iso_time(now),
            "request-id": request_id,
            "client-request-id": client_request_id or request_id,
        },
    }}


def iso_time(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# OData query options


def page_size(req: Request) -> int:
    raw = req.query.get("$top")
    if raw is None:
        return DEFAULT_PAGE_SIZE
    try:
        top = int(raw)
    except ValueError:
        raise bad_request(f"Invalid page size specified: '{raw}'.", "Request_BadRequest") from None
    if not 1 <= top <= MAX_PAGE_SIZE:
        raise bad_request(f"Invalid page size specified: '{raw}'. Must be between 1 and 999 inclusive.",
                          "Request_BadRequest")
    return top


def select(obj: Mapping[str, Any], req: Request, default: Iterable[str], *, typed: bool = False,
           ) -> dict[str, Any]:
    """Apply ``$select`` (``id`` is always returned, as Graph does), else the default property set.

    ``typed`` keeps ``@odata.type``, as Graph does in collections that mix users and groups.
    """
    raw = req.query.get("$select")
    names = [n.strip() for n in raw.split(",") if n.strip()] if raw else list(default)
    out: dict[str, Any] = {}
    if typed and "@odata.type" in obj:
        out["@odata.type"] = obj["@odata.type"]
    lower: dict[str, str] | None = None
    for name in ["id", *names]:
        if name in obj:
            out[name] = obj[name]
            continue
        if lower is None:
            lower = {k.lower(): k for k in obj}
        key = lower.get(name.lower())
        out[key or name] = obj.get(key) if key else None
    return out


_EQ = re.compile(r"^\s*(\w+)\s+eq\s+'((?:[^']|'')*)'\s*$", re.IGNORECASE)
_STARTSWITH = re.compile(r"^\s*startswith\(\s*(\w+)\s*,\s*'((?:[^']|'')*)'\s*\)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Filter:
    """A single-clause ``$filter``: ``prop eq 'v'`` or ``startswith(prop,'v')``; case-insensitive, as Graph."""

    prop: str
    op: str
    value: str

    def matches(self, obj: Mapping[str, Any]) -> bool:
        actual = next((v for k, v in obj.items() if k.lower() == self.prop.lower()), None)
        if not isinstance(actual, str):
            return False
        if self.op == "eq":
            return actual.lower() == self.value.lower()
        return actual.lower().startswith(self.value.lower())


def parse_filter(req: Request, allowed: Iterable[str]) -> Filter | None:
    raw = req.query.get("$filter")
    if raw is None:
        return None
    for op, pattern in (("eq", _EQ), ("startswith", _STARTSWITH)):
        m = pattern.match(raw)
        if m:
            prop = m.group(1)
            if prop.lower() not in {a.lower() for a in allowed}:
                raise bad_request(f"Unsupported or invalid query filter clause specified for property '{prop}'.",
                                  "Request_UnsupportedQuery")
            return Filter(prop, op, m.group(2).replace("''", "'"))
    raise bad_request("Invalid filter clause: syntax error or unsupported expression.", "BadRequest")


def encode_skiptoken(state: Mapping[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_skiptoken(token: str) -> dict[str, Any]:
    try:
        state = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, json.JSONDecodeError):
        raise bad_request("Invalid skip token.", "Request_BadRequest") from None
    if not isinstance(state, dict):
        raise bad_request("Invalid skip token.", "Request_BadRequest")
    return state


def paged(req: Request, items: Sequence[Mapping[str, Any]], path: str,
          render: Callable[[Mapping[str, Any]], dict[str, Any]], *, extra: Mapping[str, Any] | None = None,
          token: Mapping[str, Any] | None = None) -> Response:
    """Offset paging with ``$skiptoken``: one page of ``items`` (each through ``render``) plus
    ``@odata.nextLink`` while more remain; ``token`` is carried in the next skiptoken too."""
    size = page_size(req)
    offset = int(decode_skiptoken(req.query["$skiptoken"]).get("o", 0)) if "$skiptoken" in req.query else 0
    body: dict[str, Any] = {"@odata.context": f"{req.base_url}/{req.version}/$metadata#{path.strip('/')}"}
    body.update(extra or {})
    if offset + size < len(items):
        query = {k: v for k, v in req.query.items() if k != "$skiptoken"}
        query["$skiptoken"] = encode_skiptoken({**(token or {}), "o": offset + size})
        body["@odata.nextLink"] = req.graph_url(path, query)
    body["value"] = [render(item) for item in items[offset:offset + size]]
    return Response(200, body)
