"""Calls to Microsoft Graph over one requests Session: auth header, request ids, timeouts, retries.

Retries: 429/503/504, connection failures and answers that missed the call's deadline, waiting for
Retry-After or a capped backoff with jitter; one fresh token after a 401. A redirect off the configured
hosts or an answer over the size cap (see ``transport``) is refused, not retried. A POST that may have
reached Graph (read timeout, missed deadline, connection lost after sending, 5xx) is never sent again: the
caller gets GraphUncertainError and resolves it by reading.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Protocol

import requests
import urllib3.exceptions

from station.entra.errors import error_from_response, graph_error_details
from station.entra.remedies import UNAVAILABLE, Purpose
from station.entra.retry import RETRY_STATUSES, RetryPolicy, parse_retry_after
from station.entra.transport import (
    DEFAULT_CALL_DEADLINE,
    DEFAULT_MAX_RESPONSE_BYTES,
    CallDeadlineExceeded,
    GuardedSession,
    RedirectRefused,
    ResponseTooLarge,
)
from station.errors import GraphError, GraphUncertainError, Reason
from station.i18n import _

log = logging.getLogger(__name__)

IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
REDIRECT_REFUSED = ("Graph does not redirect to other hosts: check tenant.graph_host and any proxy or filter "
                    "between the station and Microsoft.")
TOO_LARGE = ("Graph's answer was larger than tenant.max_response_bytes: narrow the request (a smaller group), or "
             "raise the limit if the answer can really be that large.")
# Far more pages than any tenant needs (50,000 × up to 999 items), yet a bound on a paging loop.
MAX_PAGES = 50_000


class TokenSource(Protocol):
    def token(self) -> str: ...
    def invalidate(self) -> None: ...


def make_session(ca_file: str = "", *, redirect_hosts: Iterable[str] = (), deadline: float = DEFAULT_CALL_DEADLINE,
                 max_bytes: int = DEFAULT_MAX_RESPONSE_BYTES) -> requests.Session:
    """The one session for token and Graph calls (a ``GuardedSession``: redirects only to ``redirect_hosts``,
    a deadline per call, a size cap). Environment settings (REQUESTS_CA_BUNDLE, proxies from the environment,
    .netrc) are ignored so that ``tenant.ca_file`` means what it says."""
    session = GuardedSession(redirect_hosts=redirect_hosts, deadline=deadline, max_bytes=max_bytes)
    session.trust_env = False
    session.verify = ca_file or True
    session.headers["User-Agent"] = "station-enrolment"
    return session


def may_have_reached_server(exc: requests.RequestException) -> bool:
    """False only when the request provably never left: no connection, or a failed TLS handshake."""
    if isinstance(exc, requests.ConnectTimeout | requests.exceptions.SSLError):
        return False
    if isinstance(exc, requests.ConnectionError):
        inner = exc.args[0] if exc.args else None
        reason = getattr(inner, "reason", inner)
        return not isinstance(reason, urllib3.exceptions.NewConnectionError | urllib3.exceptions.SSLError)
    return True


class GraphHttp:
    """Graph requests relative to ``{graph_host}/{version}``; absolute URLs must stay on the Graph host."""

    def __init__(
        self,
        session: requests.Session,
        graph_host: str,
        version: str,
        tokens: TokenSource,
        *,
        timeout: tuple[float, float] = (5.0, 30.0),
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        max_pages: int = MAX_PAGES,
    ) -> None:
        self.session = session
        self.graph_host = graph_host.rstrip("/")
        self.version = version
        self.tokens = tokens
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self.clock = clock
        self.max_pages = max_pages

    def url(self, path: str, version: str | None = None) -> str:
        if path.startswith("https://"):
            if not path.startswith(self.graph_host + "/"):
                raise GraphError(
                    f"Graph pointed to {path.split('?')[0]}, outside {self.graph_host}; refusing to follow",
                    reason=Reason.GRAPH_BAD_REQUEST,
                )
            return path
        return f"{self.graph_host}/{version or self.version}/{path.lstrip('/')}"

    def request(
        self,
        method: str,
        path: str,
        *,
        purpose: Purpose,
        what: str,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        version: str | None = None,
    ) -> requests.Response:
        """Send one logical call (retrying as allowed) and return its 2xx response, or raise a GraphError."""
        url = self.url(path, version)
        client_request_id = str(uuid.uuid4())
        retries = 0
        reauthenticated = False
        while True:
            sent_headers = {
                "Authorization": f"Bearer {self.tokens.token()}",
                "client-request-id": client_request_id,
                "return-client-request-id": "true",
                "Accept": "application/json",
                **(headers or {}),
            }
            try:
                response = self.session.request(
                    method, url, params=params, json=json, headers=sent_headers, timeout=self.timeout
                )
            except (RedirectRefused, ResponseTooLarge) as e:
                if isinstance(e, ResponseTooLarge) and method not in IDEMPOTENT:
                    raise self._uncertain(what, str(e), client_request_id) from None
                raise GraphError(f"{what}: {e}", reason=Reason.GRAPH_BAD_REQUEST, client_request_id=client_request_id,
                                 remedy=REDIRECT_REFUSED if isinstance(e, RedirectRefused) else TOO_LARGE) from None
            except requests.RequestException as e:
                sent = may_have_reached_server(e)
                detail = str(e) if isinstance(e, CallDeadlineExceeded) else type(e).__name__
                if sent and method not in IDEMPOTENT:
                    raise self._uncertain(what, f"{detail} after sending", client_request_id) from None
                delay = self.retry.delay(retries, None)
                if delay is None:
                    raise GraphError(
                        f"{what}: cannot reach Graph ({detail})",
                        reason=Reason.GRAPH_UNAVAILABLE,
                        retryable=True,
                        remedy=_("Check the network, tenant.graph_host and tenant.ca_file.") + " " + _(UNAVAILABLE),
                        client_request_id=client_request_id,
                    ) from None
                log.info("%s: %s; retrying in %.1f s", what, type(e).__name__, delay)
                self.sleep(delay)
                retries += 1
                continue
            status = response.status_code
            if 200 <= status < 300:
                return response
            if status == 401 and not reauthenticated:
                reauthenticated = True
                self.tokens.invalidate()
                continue
            if status >= 500 and method not in IDEMPOTENT:
                code, message, request_id, body = graph_error_details(response)
                raise self._uncertain(what, f"{status} {code} {message}".strip(), client_request_id,
                                      status=status, code=code or None, request_id=request_id, body=body)
            if status in RETRY_STATUSES:
                wait = parse_retry_after(response.headers.get("Retry-After"), self.clock())
                delay = self.retry.delay(retries, wait)
                if delay is not None:
                    log.info("%s: Graph answered %s; retrying in %.1f s (retry %d)", what, status, delay,
                             retries + 1)
                    self.sleep(delay)
                    retries += 1
                    continue
            raise error_from_response(response, purpose, what, client_request_id)

    @staticmethod
    def _uncertain(what: str, detail: str, client_request_id: str, **kw: Any) -> GraphUncertainError:
        log.warning("%s: outcome unknown (%s), client-request-id %s", what, detail, client_request_id)
        return GraphUncertainError(
            f"{what}: the outcome is unknown ({detail})", client_request_id=client_request_id, **kw
        )

    def get_json(self, path: str, *, purpose: Purpose, what: str, **kw: Any) -> dict[str, Any]:
        return _json_object(self.request("GET", path, purpose=purpose, what=what, **kw), what)

    def pages(
        self, path: str, *, purpose: Purpose, what: str, params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None, version: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every page of a collection, following ``@odata.nextLink`` until it is absent.

        A nextLink seen before (Graph would send the same pages forever) or more than ``max_pages`` pages
        end the walk with a GraphError instead of an endless loop.
        """
        page = self.get_json(path, purpose=purpose, what=what, params=params, headers=headers, version=version)
        yield page
        seen: set[bytes] = set()
        count = 1
        while next_link := page.get("@odata.nextLink"):
            link = str(next_link)
            digest = hashlib.blake2b(link.encode("utf-8", "surrogatepass"), digest_size=16).digest()
            if digest in seen:
                raise GraphError(f"{what}: Graph sent the same @odata.nextLink twice ({link.split('?')[0]}); "
                                 "stopped instead of reading the same pages forever",
                                 reason=Reason.GRAPH_BAD_REQUEST, retryable=True,
                                 remedy="Try again later; if it persists, report it to Microsoft with the "
                                        "request ids in the log.")
            if count >= self.max_pages:
                raise GraphError(f"{what}: more than {self.max_pages} pages; stopped reading",
                                 reason=Reason.GRAPH_BAD_REQUEST,
                                 remedy="Narrow the request (a smaller group), or report it if the collection "
                                        "cannot be that large.")
            seen.add(digest)
            count += 1
            page = self.get_json(link, purpose=purpose, what=what, headers=headers)
            yield page


def _json_object(response: requests.Response, what: str) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise GraphError(f"{what}: Graph answered {response.status_code} without a JSON object",
                         status=response.status_code, reason=Reason.GRAPH_BAD_REQUEST)
    return data
