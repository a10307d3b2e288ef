"""Paging through Graph collections ends: a repeated @odata.nextLink or too many pages is a GraphError.

A small HTTPS server on 127.0.0.1 plays Graph and answers each page with the nextLink the test scripts;
``GraphHttp.pages`` talks to it with a real requests session and TLS.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from station.entra.http import GraphHttp, make_session
from station.errors import GraphError, Reason
from station_emulator.entra.certs import make_tls_files

NextLink = Callable[[str, str], str | None]


class Tokens:
    def token(self) -> str:
        return "token"

    def invalidate(self) -> None:
        return None


class FakeGraph:
    """Answers every GET with one item and ``next_link(base, path)`` as its nextLink; counts requests."""

    def __init__(self, tmp: Path) -> None:
        tls = make_tls_files(tmp / "tls")
        self.ca_file = str(tls.ca_file)
        self.requests: list[str] = []
        self.next_link: NextLink = lambda base, path: None
        graph = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                graph.requests.append(self.path)
                link = graph.next_link(graph.base, self.path)
                body = {"value": [{"id": str(len(graph.requests))}], **({"@odata.nextLink": link} if link else {})}
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls.cert_file, tls.key_file)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.base = f"https://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def graph(tmp_path: Path) -> Iterator[FakeGraph]:
    g = FakeGraph(tmp_path)
    yield g
    g.close()


def http(graph: FakeGraph, **kw: int) -> GraphHttp:
    return GraphHttp(make_session(graph.ca_file), graph.base, "v1.0", Tokens(), timeout=(2.0, 5.0), **kw)


def walk(client: GraphHttp) -> list[str]:
    return [item["id"] for page in client.pages("users", purpose="directory", what="list users")
            for item in page["value"]]


def test_pages_follow_next_links_until_there_is_none(graph: FakeGraph) -> None:
    graph.next_link = lambda base, path: None if "page=3" in path else \
        f"{base}/v1.0/users?page={len(graph.requests) + 1}"
    assert walk(http(graph)) == ["1", "2", "3"]


def test_a_next_link_pointing_back_stops_with_a_graph_error(graph: FakeGraph) -> None:
    # Page 1 → page 2 → page 3 → page 2 again: a loop.
    links = {"/v1.0/users": "page=2", "/v1.0/users?page=2": "page=3", "/v1.0/users?page=3": "page=2"}
    graph.next_link = lambda base, path: f"{base}/v1.0/users?{links[path]}"
    with pytest.raises(GraphError) as stopped:
        walk(http(graph))
    assert stopped.value.reason is Reason.GRAPH_BAD_REQUEST
    assert "same @odata.nextLink twice" in stopped.value.message and "list users" in stopped.value.message
    assert stopped.value.remedy
    assert len(graph.requests) == 3, "no page is read twice"


def test_a_link_to_the_page_itself_stops_at_once(graph: FakeGraph) -> None:
    graph.next_link = lambda base, path: f"{base}/v1.0/users?page=same"
    with pytest.raises(GraphError, match=r"same @odata\.nextLink twice"):
        walk(http(graph))
    assert len(graph.requests) == 2


def test_never_repeating_links_stop_at_the_page_limit(graph: FakeGraph) -> None:
    graph.next_link = lambda base, path: f"{base}/v1.0/users?page={len(graph.requests) + 1}"
    with pytest.raises(GraphError, match="more than 25 pages") as stopped:
        walk(http(graph, max_pages=25))
    assert stopped.value.reason is Reason.GRAPH_BAD_REQUEST
    assert len(graph.requests) == 25
