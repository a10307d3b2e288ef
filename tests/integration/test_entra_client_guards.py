"""The Graph client against a hostile or broken server: the Entra emulator over HTTPS (real msal and requests)
redirects off Microsoft's hosts, drips its answer a byte at a time, sends answers past any sane size, and
hands out creation options for another relying party."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from enrol_harness import build_station
from support.waiting import wait_idle
from test_entra_client import Sleeps, make_client, make_registration, some_user

from station.entra import EntraClient
from station.entra.codec import url_token_encode
from station.entra.transport import DEFAULT_MAX_RESPONSE_BYTES
from station.errors import AuthError, GraphError, GraphUncertainError, Reason
from station.events import EnrolmentFailed
from station_emulator.entra import EntraEmulator
from station_emulator.key import VirtualKey

USERS = r"/users/[^/?]+\?"
METHODS = r"/fido2Methods$"
OPTIONS = r"/creationOptions"
TOKEN = r"/oauth2/v2\.0/token$"


@pytest.fixture(scope="module")
def emu() -> Iterator[EntraEmulator]:
    with EntraEmulator(users=30, seed=41) as e:
        yield e


@pytest.fixture(autouse=True)
def _no_shapes_left(emu: EntraEmulator) -> Iterator[None]:
    yield
    emu.delivery.clear()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def client(emu: EntraEmulator, tmp_path: Path, sleeps: Sleeps) -> Iterator[EntraClient]:
    with make_client(emu, tmp_path, sleeps) as c:
        yield c


class Listener:
    """A TCP port on 127.0.0.1 that counts the connections made to it: where a redirect must not lead."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def elsewhere() -> Iterator[Listener]:
    listener = Listener()
    yield listener
    listener.close()


# -- redirects ------------------------------------------------------------------------------------------------
def test_a_redirect_off_the_configured_hosts_is_refused(emu: EntraEmulator, client: EntraClient,
                                                        elsewhere: Listener) -> None:
    user = some_user(emu)
    emu.delivery.shape(path=USERS, method="GET", redirect_to=f"https://127.0.0.1:{elsewhere.port}/v1.0/users/x")
    with pytest.raises(GraphError) as e:
        client.directory.get_user(user["id"])
    assert e.value.reason is Reason.GRAPH_BAD_REQUEST and not e.value.retryable
    assert f"127.0.0.1:{elsewhere.port}/v1.0/users/x" in e.value.message and "refused" in e.value.message
    assert "tenant.graph_host" in e.value.remedy
    assert elsewhere.accepted == 0, "the station followed the redirect (with its token) off the Graph host"


def test_a_redirect_to_a_look_alike_host_is_refused(emu: EntraEmulator, client: EntraClient) -> None:
    emu.delivery.shape(path=USERS, method="GET", redirect_to="https://graph.microsoft.com.example/v1.0/users/x")
    with pytest.raises(GraphError) as e:
        client.directory.get_user(some_user(emu, 1)["id"])
    assert e.value.reason is Reason.GRAPH_BAD_REQUEST and "graph.microsoft.com.example" in e.value.message


def test_a_redirect_within_the_graph_host_is_followed(emu: EntraEmulator, client: EntraClient) -> None:
    user = some_user(emu, 2)
    emu.delivery.shape(path=USERS, method="GET", redirect_to=f"{emu.base_url}/v1.0/users/{user['id']}")
    assert client.directory.get_user(user["id"]).id == user["id"]
    assert [r.status for r in emu.request_log if user["id"] in r.path][-2:] == [307, 200]


def test_a_redirected_registration_registers_nothing(emu: EntraEmulator, client: EntraClient,
                                                     elsewhere: Listener) -> None:
    user_id = some_user(emu, 3)["id"]
    reg = make_registration(client.passkeys.creation_options(user_id))
    emu.delivery.shape(path=METHODS, method="POST", redirect_to=f"https://127.0.0.1:{elsewhere.port}/register")
    with pytest.raises(GraphError) as e:
        client.passkeys.register(user_id, "key", **reg)
    assert not isinstance(e.value, GraphUncertainError) and e.value.reason is Reason.GRAPH_BAD_REQUEST
    assert elsewhere.accepted == 0
    assert emu.tenant.methods_of(user_id) == []


# -- a deadline for the whole call ------------------------------------------------------------------------------
def test_a_dripped_answer_is_cut_at_the_call_deadline(emu: EntraEmulator, tmp_path: Path, sleeps: Sleeps) -> None:
    user = some_user(emu, 4)
    # One byte every 0.2 s: each read gets a byte long before read_timeout (10 s), the whole answer ~2 minutes.
    emu.delivery.shape(path=USERS, method="GET", drip_seconds=0.2, count=4)
    with make_client(emu, tmp_path, sleeps, call_deadline=1.5) as c, pytest.raises(GraphError) as e:
        c.directory.get_user(user["id"])
    assert e.value.reason is Reason.GRAPH_UNAVAILABLE and e.value.retryable
    assert "no complete answer within 1.5 s" in e.value.message
    assert len(sleeps) == 3, "each of the four attempts should have been cut and retried"


def test_a_dripped_registration_answer_is_uncertain_and_resolved_by_reading(emu: EntraEmulator, tmp_path: Path,
                                                                           sleeps: Sleeps) -> None:
    user_id = some_user(emu, 5)["id"]
    with make_client(emu, tmp_path, sleeps, call_deadline=1.5) as c:
        reg = make_registration(c.passkeys.creation_options(user_id))
        emu.delivery.shape(path=METHODS, method="POST", drip_seconds=0.2)
        with pytest.raises(GraphUncertainError) as e:
            c.passkeys.register(user_id, "key", **reg)
        assert "no complete answer within 1.5 s" in e.value.message
        assert sleeps == []
        method_id = c.passkeys.find_method_for_credential(user_id, reg["credential_id"])
    assert method_id == url_token_encode(reg["credential_id"])


def test_the_token_call_is_under_the_same_guards(emu: EntraEmulator, tmp_path: Path, elsewhere: Listener) -> None:
    user_id = some_user(emu, 12)["id"]
    emu.delivery.shape(path=TOKEN, method="POST", redirect_to=f"https://127.0.0.1:{elsewhere.port}/token")
    with make_client(emu, tmp_path, call_deadline=1.5) as c:
        with pytest.raises(AuthError) as redirected:
            c.directory.get_user(user_id)
        assert elsewhere.accepted == 0, "the client credential was posted off the authority host"
        emu.delivery.shape(path=TOKEN, method="POST", drip_seconds=0.2)
        with pytest.raises(AuthError) as dripped:
            c.directory.get_user(user_id)
        assert c.directory.get_user(user_id).id == user_id
    assert redirected.value.retryable and dripped.value.retryable
    assert [r.status for r in emu.request_log if r.path.endswith("/token")][-3:] == [307, 200, 200]


# -- a size cap --------------------------------------------------------------------------------------------------
def test_an_answer_announced_over_the_cap_is_refused_unread(emu: EntraEmulator, client: EntraClient,
                                                            sleeps: Sleeps) -> None:
    emu.delivery.shape(path=USERS, method="GET", pad_bytes=DEFAULT_MAX_RESPONSE_BYTES + 1)
    with pytest.raises(GraphError) as e:
        client.directory.get_user(some_user(emu, 6)["id"])
    assert e.value.reason is Reason.GRAPH_BAD_REQUEST and not e.value.retryable
    assert f"over the {DEFAULT_MAX_RESPONSE_BYTES}-byte cap" in e.value.message
    assert "tenant.max_response_bytes" in e.value.remedy
    assert sleeps == []


def test_a_chunked_answer_is_cut_once_past_the_cap(emu: EntraEmulator, tmp_path: Path) -> None:
    emu.delivery.shape(path=USERS, method="GET", pad_bytes=300_000, chunked=True)
    with make_client(emu, tmp_path, max_response_bytes=200_000) as c, pytest.raises(GraphError) as e:
        c.directory.get_user(some_user(emu, 7)["id"])
    assert e.value.reason is Reason.GRAPH_BAD_REQUEST
    assert "more than 200000 bytes" in e.value.message


def test_answers_under_the_cap_are_read_whole(emu: EntraEmulator, tmp_path: Path) -> None:
    user = some_user(emu, 8)
    emu.delivery.shape(path=USERS, method="GET", pad_bytes=150_000, chunked=True)
    with make_client(emu, tmp_path, max_response_bytes=200_000) as c:
        assert c.directory.get_user(user["id"]).id == user["id"]


# -- rp.id pinned ------------------------------------------------------------------------------------------------
def test_creation_options_for_another_relying_party_are_refused(emu: EntraEmulator, client: EntraClient) -> None:
    user_id = some_user(emu, 9)["id"]
    emu.delivery.shape(path=OPTIONS, method="GET", rp_id="login.microsoft.com.example")
    with pytest.raises(GraphError) as e:
        client.passkeys.creation_options(user_id)
    assert e.value.reason is Reason.RP_ID_MISMATCH and not e.value.retryable
    assert "'login.microsoft.com.example'" in e.value.message and "tenant.rp_id" in e.value.remedy
    assert client.passkeys.creation_options(user_id).rp_id == "login.microsoft.com"


def test_the_expected_relying_party_is_configurable(emu: EntraEmulator, tmp_path: Path) -> None:
    user_id = some_user(emu, 10)["id"]
    emu.delivery.shape(path=OPTIONS, method="GET", rp_id="passkeys.example")
    with make_client(emu, tmp_path, rp_id="passkeys.example") as c:
        assert c.passkeys.creation_options(user_id).rp_id == "passkeys.example"
        with pytest.raises(GraphError) as e:
            c.passkeys.creation_options(user_id)
    assert e.value.reason is Reason.RP_ID_MISMATCH


def test_an_enrolment_for_another_relying_party_leaves_the_key_untouched(emu: EntraEmulator, tmp_path: Path) -> None:
    station = build_station(emu, tmp_path, prefetch=0)
    try:
        (user,) = station.queue_users(1, start=11)
        emu.delivery.shape(path=OPTIONS, method="GET", rp_id="login.microsoft.com.example")
        key = VirtualKey("fido21")
        station.keys.insert(key)
        event = station.events.wait_for(EnrolmentFailed)
        assert event.reason == "rp_id_mismatch" and event.enrolment_id is not None
        wait_idle(station.engine, 5)
        assert not key.state.pin_set and key.state.residents == [], "the key was touched"
        assert emu.tenant.methods_of(user["id"]) == []
        row = station.store.journal.get(event.enrolment_id)
        assert row is not None and row.state == "failed" and row.pin_escrow is None
        person = station.store.queue.get(user["userPrincipalName"])
        assert person.state == "queued" and person.failures == 0, "a misconfigured Graph cost the person an attempt"
    finally:
        station.close()
