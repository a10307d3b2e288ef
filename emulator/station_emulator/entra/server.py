"""The Entra ID / Graph emulator: one HTTPS server on 127.0.0.1, run in a thread, usable in-process.

``EntraEmulator(...).start()`` makes a CA and server certificate, seeds a tenant, and serves the identity
endpoints (``/{tenant}/v2.0/...``), Graph (``/v1.0``, ``/beta``) and its control endpoints (``/_emulator``).
``faults`` breaks what Graph answers, ``delivery`` how an answer arrives (redirected, dripped, oversized).
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import re
import secrets
import shutil
import socket
import ssl
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from cryptography import x509

from station.files import write_private_atomically
from station_emulator.entra import routes_admin, routes_auth, routes_directory, routes_passkeys, routes_tap
from station_emulator.entra.certs import make_client_certificate, make_tls_files, write_client_certificate
from station_emulator.entra.delivery import Answer, DeliveryControl, write_answer
from station_emulator.entra.faults import FaultControl
from station_emulator.entra.protocol import GRAPH_VERSIONS, GraphError, Request, Response, graph_error_body
from station_emulator.entra.seed import DOMAIN, GROUP_NAME, populate, seeded_uuid
from station_emulator.entra.tenant import AppRegistration, Tenant
from station_emulator.entra.tokens import AuthError, TokenIssuer
from station_emulator.entra.verify import load_roots

log = logging.getLogger(__name__)

ROUTES = (routes_auth.ROUTES + routes_admin.ROUTES + routes_directory.ROUTES + routes_passkeys.ROUTES
          + routes_tap.ROUTES)
_VERSION_PREFIX = re.compile(r"^/(v1\.0|beta)(/.*)$", re.IGNORECASE)


@dataclass(frozen=True)
class EmulatorInfo:
    """What a client needs to connect; written by ``--info-json``."""

    authority: str
    graph_url: str
    tenant_id: str
    client_id: str
    client_secret: str
    ca_file: str
    group_id: str
    group_name: str
    client_certificate_file: str
    client_key_file: str


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    status: int
    time: float
    client_request_id: str | None
    request_id: str
    lost: bool = False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    emulator: EntraEmulator

    def __init__(self, address: tuple[str, int], context: ssl.SSLContext):
        super().__init__(address, _Handler)
        self.socket = context.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self.connections_lock:
            for conn in list(self.connections):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""
    timeout = 60
    wbufsize = -1  # headers and body leave in one segment (no delayed-ACK stall)
    server: _Server

    def setup(self) -> None:
        self.request.settimeout(self.timeout)
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.request.do_handshake()
        super().setup()

    def do_GET(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        answer = self.server.emulator.handle(self.command, self.path, self.headers, body)
        if answer is None:
            self.close_connection = True
            return
        if answer.drip_seconds or answer.chunked:
            self.close_connection = True
            lines = [f"HTTP/1.1 {answer.status} {self.responses.get(answer.status, ('',))[0]}",
                     *(f"{name}: {value}" for name, value in answer.headers.items()), "Transfer-Encoding: chunked"
                     if answer.chunked else f"Content-Length: {len(answer.payload)}", "Connection: close", "", ""]
            write_answer(self.connection, "\r\n".join(lines).encode("latin-1"), answer)
            return
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.payload)))
        self.end_headers()
        self.wfile.write(answer.payload)

    do_POST = do_PATCH = do_DELETE = do_PUT = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)


class EntraEmulator:
    """An Entra ID tenant and Microsoft Graph over HTTPS on 127.0.0.1; a context manager."""

    def __init__(self, *, port: int = 0, users: int = 50, group_size: int | None = None, seed: int = 1,
                 latency_ms: float = 0, throttle_rate: float = 0, error_rate: float = 0,
                 cert_dir: Path | None = None, trusted_roots: list[bytes] | None = None,
                 attestation_enforced: bool = True, clock: Callable[[], float] = time.time):
        self.port = port
        self._clock = clock
        self._clock_offset = 0.0
        self._cert_dir = cert_dir
        self._own_cert_dir: Path | None = None
        rng = random.Random(seed)
        app = AppRegistration(client_id=seeded_uuid(rng), client_secret=secrets.token_urlsafe(30))
        self.tenant = Tenant(tenant_id=seeded_uuid(rng), domain=DOMAIN, app=app,
                             attestation_enforced=attestation_enforced)
        populate(self.tenant, rng, users=users, group_size=group_size)
        self._add_key_models()
        self.trusted_roots: list[x509.Certificate] = load_roots(
            trusted_roots if trusted_roots is not None else [_virtual_key_root()])
        self.challenge_key = secrets.token_bytes(32)
        self.request_log: list[LoggedRequest] = []
        self._log_lock = threading.Lock()
        self.tokens = TokenIssuer(tenant_id=self.tenant.tenant_id, app=self.tenant.app, token_endpoint="",
                                  clock=self.clock)
        self.faults = FaultControl(seed=seed, throttle_rate=throttle_rate, error_rate=error_rate,
                                   latency_ms=latency_ms, revoke=self._revoke_tokens, rotate=self._rotate_secret)
        self.delivery = DeliveryControl()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._info: EmulatorInfo | None = None

    # lifecycle

    def start(self) -> EntraEmulator:
        cert_dir = self._cert_dir
        if cert_dir is None:
            cert_dir = self._own_cert_dir = Path(tempfile.mkdtemp(prefix="entra-emulator-"))
        tls = make_tls_files(cert_dir)
        client = make_client_certificate("station-emulator-client")
        self.tenant.app.add_certificate(client.cert_pem)
        client_cert_file, client_key_file = write_client_certificate(cert_dir, client)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls.cert_file, tls.key_file)
        self._server = _Server(("127.0.0.1", self.port), context)
        self._server.emulator = self
        self.port = self._server.server_address[1]
        main = next(g for g in self.tenant.groups.values() if g.display_name == GROUP_NAME)
        self._info = EmulatorInfo(
            authority=f"{self.base_url}/{self.tenant.tenant_id}", graph_url=self.base_url,
            tenant_id=self.tenant.tenant_id, client_id=self.tenant.app.client_id,
            client_secret=self.tenant.app.client_secret, ca_file=str(tls.ca_file), group_id=main.id,
            group_name=main.display_name, client_certificate_file=str(client_cert_file),
            client_key_file=str(client_key_file),
        )
        self.tokens.token_endpoint = f"{self._info.authority}/oauth2/v2.0/token"
        self._thread = threading.Thread(target=self._server.serve_forever, name="entra-emulator", daemon=True)
        self._thread.start()
        log.info("Entra emulator listening on %s (tenant %s, %d users)", self.base_url, self.tenant.tenant_id,
                 len(self.tenant.users))
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.close_connections()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._own_cert_dir is not None:
            shutil.rmtree(self._own_cert_dir, ignore_errors=True)
            self._own_cert_dir = None

    def __enter__(self) -> EntraEmulator:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # what clients and tests use

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def info(self) -> EmulatorInfo:
        if self._info is None:
            raise RuntimeError("the emulator is not started")
        return self._info

    def write_info(self, path: Path) -> None:
        """Write :attr:`info` as JSON, readable by its owner only (it holds the client secret)."""
        write_private_atomically(path, json.dumps(asdict(self.info), indent=2) + "\n")

    def clock(self) -> float:
        return self._clock() + self._clock_offset

    def advance_clock(self, seconds: float) -> None:
        """Move the emulator's notion of time forward (token and challenge expiry)."""
        self._clock_offset += seconds

    def register_client_certificate(self, cert_pem: bytes) -> None:
        """Accept client assertions signed with this certificate's key."""
        self.tenant.app.add_certificate(cert_pem)

    def _revoke_tokens(self) -> int:
        return self.tokens.revoke_all()

    def _rotate_secret(self) -> str:
        secret = secrets.token_urlsafe(30)
        self.tenant.app.client_secret = secret
        if self._info is not None:
            self._info = replace(self._info, client_secret=secret)
        self.tokens.revoke_all()
        return secret

    def _add_key_models(self) -> None:
        from station_emulator.key.profiles import PROFILES

        for profile in PROFILES.values():
            if profile.default_aaguid.int:
                self.tenant.models[str(profile.default_aaguid)] = profile.product_name

    # request handling (called on the server's threads)

    def handle(self, method: str, target: str, headers: Message, body: bytes) -> Answer | None:
        """Answer one request, or None to drop the connection unanswered."""
        split = urlsplit(target)
        path = unquote(split.path)
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        req = Request(method=method, path=path, raw_target=target, query=query, headers=headers, body=body,
                      base_url=self.base_url, request_id=str(uuid.uuid4()))
        versioned = _VERSION_PREFIX.match(split.path)
        if versioned:
            req.version = versioned.group(1).lower()
            req.path = unquote(versioned.group(2))
        lost = False
        shape = None if path.startswith("/_emulator/") else self.delivery.take(method, target)
        try:
            if path.startswith("/_emulator/"):
                return self._encode(req, self._admin(req))
            if shape is not None and shape.redirect_to is not None:
                response = Response(307, None, {"Location": shape.redirect_to})
            elif versioned:
                response, lost = self._graph(req)
            else:
                response = self._dispatch(req, versions=None)
        except GraphError as e:
            response = Response(e.status, graph_error_body(e, req.request_id, req.client_request_id, self.clock()),
                                e.headers)
        except AuthError as e:
            response = Response(e.status, e.body(self.clock(), req.request_id,
                                                 req.client_request_id or req.request_id))
        except Exception:
            log.exception("emulator failed on %s %s", method, path)
            error = GraphError(500, "generalException", "An internal server error occurred.")
            response = Response(500, graph_error_body(error, req.request_id, req.client_request_id, self.clock()))
        with self._log_lock:
            self.request_log.append(LoggedRequest(method, target, response.status, self.clock(),
                                                  req.client_request_id, req.request_id, lost))
        if lost:
            return None
        if shape is None:
            return self._encode(req, response)
        shape.reshape(response)
        return self._encode(req, response)._replace(drip_seconds=shape.drip_seconds, chunked=shape.chunked)

    def _graph(self, req: Request) -> tuple[Response, bool]:
        if self.faults.latency_ms:
            time.sleep(self.faults.latency_ms / 1000)
        req.token_claims = self.tokens.check(req.header("Authorization"))
        error, lost = self.faults.before(req.method, req.raw_target)
        if error is not None:
            raise error
        return self._dispatch(req, versions=GRAPH_VERSIONS), lost

    def _admin(self, req: Request) -> Response:
        given = req.header(routes_admin.ADMIN_HEADER) or ""
        if not secrets.compare_digest(given.encode(), self.tenant.app.client_secret.encode()):
            raise GraphError(401, "Unauthorized", f"The {routes_admin.ADMIN_HEADER} header is missing or wrong.")
        return self._dispatch(req, versions=None)

    def _dispatch(self, req: Request, *, versions: tuple[str, ...] | None) -> Response:
        path_matched = False
        for candidate in ROUTES:
            if (candidate.versions is None) != (versions is None):
                continue
            if req.version is not None and candidate.versions is not None and req.version not in candidate.versions:
                continue
            m = candidate.pattern.fullmatch(req.path)
            if m is None:
                continue
            path_matched = True
            if candidate.method != req.method:
                continue
            if candidate.roles and not candidate.roles & set(req.token_claims.get("roles", [])):
                raise GraphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the "
                                 "operation.")
            return candidate.handler(self, req, m)
        if path_matched:
            raise GraphError(405, "Request_BadRequest", f"The HTTP method '{req.method}' is not allowed for this "
                             "resource.")
        if versions is None:
            raise GraphError(404, "NotFound", f"No endpoint at '{req.path}'.")
        segment = req.path.strip("/").split("/")[-1]
        raise GraphError(400, "BadRequest", f"Resource not found for the segment '{segment}'.")

    def _encode(self, req: Request, response: Response) -> Answer:
        headers = {"Content-Type": "application/json; charset=utf-8", "request-id": req.request_id,
                   "client-request-id": req.client_request_id or req.request_id,
                   "x-ms-ags-diagnostic": json.dumps({"ServerInfo": {"DataCenter": "Emulator", "Slice": "E"}}),
                   **response.headers}
        payload = response.encode()
        if response.body is None:
            headers.pop("Content-Type")
        return Answer(response.status, headers, payload)


def _virtual_key_root() -> bytes:
    from station_emulator.key import attestation_root_pem

    return attestation_root_pem()
