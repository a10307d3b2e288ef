"""The HTTPS session every token and Graph call goes through, guarded against a hostile or broken server.

``GuardedSession`` is the ``requests.Session`` msal (as its http_client) and ``GraphHttp`` share, with:

- **redirects only to the configured hosts**: a Location outside ``tenant.graph_host``, ``tenant.authority_host``
  and Microsoft's sign-in hosts is refused (``RedirectRefused``), as GraphHttp refuses such an
  ``@odata.nextLink``;
- **a deadline for the whole call** (``tenant.call_deadline``): the headers and the body must all have arrived
  by then, however slowly a server drips them. The per-read ``read_timeout`` never fires while a byte arrives
  every few seconds; here one watchdog thread shuts a call's socket down when its deadline passes, and the call fails
  with ``CallDeadlineExceeded`` (a ``requests.Timeout``: for a POST the outcome is unknown);
- **a size cap** (``tenant.max_response_bytes``, 16 MiB by default): the body is read in chunks and refused
  with ``ResponseTooLarge`` as soon as it passes the cap, or at once when its Content-Length says it will.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from collections.abc import Iterable
from typing import Any, Final
from urllib.parse import urljoin, urlsplit

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

DEFAULT_MAX_RESPONSE_BYTES: Final = 16 * 1024 * 1024
DEFAULT_CALL_DEADLINE: Final = 60.0
CHUNK_BYTES: Final = 64 * 1024


class ResponseTooLarge(requests.RequestException):
    """The answer is larger than the session's cap; it was not read to the end."""


class CallDeadlineExceeded(requests.Timeout):
    """The whole answer did not arrive within the call's deadline."""


class RedirectRefused(requests.RequestException):
    """The server redirected to a host Station was not configured to talk to."""


def origin(url: str) -> str:
    """``host:port`` of an https URL (port 443 when none is given), lower case: what redirects are matched on."""
    parts = urlsplit(url)
    return f"{(parts.hostname or '').lower()}:{parts.port or 443}"


class _Call:
    """One call's deadline: the sockets it reads from, shut down when the deadline passes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self.expired = False
        self._finished = False

    def watch(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                _shut(sock)

    def expire(self) -> None:
        with self._lock:
            if self._finished:
                return
            self.expired = True
            for sock in self._sockets:
                _shut(sock)

    def finish(self) -> None:
        with self._lock:
            self._finished = True
            self._sockets.clear()

    @property
    def finished(self) -> bool:
        return self._finished


class _Watchdog:
    """One thread that expires every call whose deadline has passed (a timer thread per call would cost a
    thread start, and a wait for the scheduler, on every call)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._due: list[tuple[float, int, _Call]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, call: _Call, seconds: float) -> None:
        with self._cond:
            heapq.heappush(self._due, (time.monotonic() + seconds, next(self._order), call))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="graph call deadlines", daemon=True)
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                while self._due and (self._due[0][2].finished or self._due[0][0] <= now):
                    heapq.heappop(self._due)[2].expire()
                self._cond.wait(self._due[0][0] - now if self._due else None)


_watchdog = _Watchdog()


def _shut(sock: socket.socket) -> None:
    """Shut the connection down under a blocked read (the base method: an SSLSocket's own would unwrap TLS)."""
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


_current = threading.local()


def _watch(sock: socket.socket | None) -> None:
    call: _Call | None = getattr(_current, "call", None)
    if call is not None:
        call.watch(sock)


class _WatchedHTTPConnection(HTTPConnection):
    def connect(self) -> None:
        super().connect()
        _watch(self.sock)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watch(self.sock)
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        _watch(self.sock)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watch(self.sock)
        super().request(*args, **kwargs)


class _WatchedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _WatchedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedHTTPConnectionPool,
                                                   "https": _WatchedHTTPSConnectionPool}


class GuardedSession(requests.Session):
    """A session whose calls follow redirects only to ``redirect_hosts`` (``host:port``), end at ``deadline``
    seconds and read at most ``max_bytes`` of an answer."""

    def __init__(self, *, redirect_hosts: Iterable[str] = (), deadline: float = DEFAULT_CALL_DEADLINE,
                 max_bytes: int = DEFAULT_MAX_RESPONSE_BYTES) -> None:
        super().__init__()
        self.redirect_hosts = frozenset(h.lower() for h in redirect_hosts)
        self.deadline = deadline
        self.max_bytes = max_bytes
        adapter = _WatchedAdapter()
        self.mount("https://", adapter)
        self.mount("http://", adapter)

    def request(self, method: str | bytes, url: str | bytes, *args: Any,
                **kwargs: Any) -> requests.Response:
        kwargs["stream"] = True
        call = _Call()
        _current.call = call
        _watchdog.watch(call, self.deadline)
        try:
            response = super().request(method, url, *args, **kwargs)
            self._read_body(response)
            return response
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as e:
            if call.expired and not isinstance(e, ResponseTooLarge | RedirectRefused):
                raise CallDeadlineExceeded(f"{_host(url)} sent no complete answer within {self.deadline:g} s "
                                           "(tenant.call_deadline)") from None
            raise
        finally:
            call.finish()
            _current.call = None

    def _read_body(self, response: requests.Response) -> None:
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            response.close()
            raise ResponseTooLarge(f"{_host(response.url)} announced an answer of {int(declared)} bytes, over the "
                                   f"{self.max_bytes}-byte cap (tenant.max_response_bytes)")
        body = bytearray()
        for chunk in response.iter_content(CHUNK_BYTES):
            body += chunk
            if len(body) > self.max_bytes:
                response.close()
                raise ResponseTooLarge(f"{_host(response.url)} sent an answer of more than {self.max_bytes} "
                                       "bytes (tenant.max_response_bytes); stopped reading it")
        response._content = bytes(body)  # what .content and .json() read; the stream is consumed

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        target = super().get_redirect_target(resp)
        if target is None:
            return None
        absolute = urljoin(resp.url, target)
        if urlsplit(absolute).scheme != "https" or origin(absolute) not in self.redirect_hosts:
            resp.close()
            raise RedirectRefused(f"{_host(resp.url)} redirected to {absolute.split('?')[0]}, outside the "
                                  "configured hosts (tenant.graph_host, tenant.authority_host); refused")
        return target


def _host(url: str | bytes) -> str:
    text = url.decode("utf-8", "replace") if isinstance(url, bytes) else url
    return urlsplit(text).netloc or "the server"
