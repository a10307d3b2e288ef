"""Whether a failed request may have reached the server decides if a POST can be sent again.
Checked with real sockets on 127.0.0.1: refused before sending, dropped after sending, no answer in time."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest
import requests

from station.entra.http import may_have_reached_server

StartServer = Callable[[Callable[[socket.socket], None]], str]


def failure_of(url: str, timeout: float = 2.0) -> requests.RequestException:
    session = requests.Session()
    session.trust_env = False
    with pytest.raises(requests.RequestException) as e:
        session.post(url, json={"displayName": "key"}, timeout=timeout)
    return e.value


@pytest.fixture
def server() -> Iterator[StartServer]:
    """A one-connection TCP server on 127.0.0.1 whose behaviour the test gives; yields a URL factory."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    threads: list[threading.Thread] = []

    def start(behaviour: Callable[[socket.socket], None]) -> str:
        def serve() -> None:
            conn, _ = listener.accept()
            with conn:
                behaviour(conn)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        threads.append(thread)
        return f"http://127.0.0.1:{listener.getsockname()[1]}/v1.0/users/x/authentication/fido2Methods"

    yield start
    listener.close()
    for thread in threads:
        thread.join(timeout=5)


def test_refused_connection_never_reached_the_server() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    assert may_have_reached_server(failure_of(f"http://127.0.0.1:{port}/v1.0/users")) is False


def test_connection_dropped_after_the_request_may_have_reached_it(server: StartServer) -> None:
    def read_then_drop(conn: socket.socket) -> None:
        conn.recv(65536)

    assert may_have_reached_server(failure_of(server(read_then_drop))) is True


def test_no_answer_in_time_may_have_reached_it(server: StartServer) -> None:
    done = threading.Event()

    def read_and_stall(conn: socket.socket) -> None:
        conn.recv(65536)
        done.wait(3)

    error = failure_of(server(read_and_stall), timeout=0.3)
    done.set()
    assert isinstance(error, requests.ReadTimeout)
    assert may_have_reached_server(error) is True
