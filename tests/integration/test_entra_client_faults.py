"""The Graph client under faults injected by the Entra emulator: Retry-After and backoff without real
sleeping, giving up, one re-authentication on 401, and POSTs whose outcome is unknown."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_entra_client import Sleeps, make_client, make_registration, some_user

from station.entra import EntraClient, remedies
from station.entra.codec import url_token_encode
from station.errors import AuthError, GraphError, GraphUncertainError, Reason
from station_emulator.entra import EntraEmulator, LoggedRequest

USERS = r"/users/[^/?]+\?"
METHODS = r"/fido2Methods$"


@pytest.fixture(scope="module")
def emu() -> Iterator[EntraEmulator]:
    with EntraEmulator(users=40, seed=23) as e:
        yield e


@pytest.fixture(autouse=True)
def _no_faults_left(emu: EntraEmulator) -> Iterator[None]:
    yield
    emu.faults.clear()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def client(emu: EntraEmulator, tmp_path: Path, sleeps: Sleeps) -> Iterator[EntraClient]:
    with make_client(emu, tmp_path, sleeps) as c:
        yield c


def calls(emu: EntraEmulator, client_request_id: str | None = None, path: str = "") -> list[LoggedRequest]:
    return [r for r in emu.request_log
            if path in r.path and (client_request_id is None or r.client_request_id == client_request_id)]


def last_call(emu: EntraEmulator, path: str) -> LoggedRequest:
    return calls(emu, path=path)[-1]


def test_retry_after_is_honoured_without_sleeping(emu: EntraEmulator, client: EntraClient, sleeps: Sleeps) -> None:
    user = some_user(emu)
    emu.faults.inject(429, count=2, path=USERS, method="GET", retry_after=7)
    started = time.monotonic()
    assert client.directory.get_user(user["id"]).id == user["id"]
    assert time.monotonic() - started < 5
    assert sleeps == [7.0, 7.0]
    attempts = calls(emu, last_call(emu, user["id"]).client_request_id)
    assert [r.status for r in attempts] == [429, 429, 200]


def test_unavailable_without_retry_after_backs_off(emu: EntraEmulator, client: EntraClient, sleeps: Sleeps) -> None:
    emu.faults.inject(503, count=1, path=USERS, method="GET")
    emu.faults.inject(504, count=1, path=USERS, method="GET")
    client.directory.get_user(some_user(emu, 1)["id"])
    assert len(sleeps) == 2
    assert 0.25 <= sleeps[0] <= 0.5 and 0.5 <= sleeps[1] <= 1.0


def test_gives_up_after_the_retry_budget(emu: EntraEmulator, client: EntraClient, sleeps: Sleeps) -> None:
    user = some_user(emu, 2)
    emu.faults.inject(429, count=10, path=USERS, method="GET", retry_after=1)
    with pytest.raises(GraphError) as e:
        client.directory.get_user(user["id"])
    assert (e.value.status, e.value.reason, e.value.retryable, e.value.remedy) == (
        429, Reason.GRAPH_THROTTLED, True, remedies.THROTTLED)
    assert sleeps == [1.0, 1.0, 1.0]
    assert len(calls(emu, e.value.client_request_id)) == 4


def test_a_lost_read_is_simply_retried(emu: EntraEmulator, client: EntraClient, sleeps: Sleeps) -> None:
    user = some_user(emu, 3)
    emu.faults.lose_next_response(path=USERS, method="GET")
    assert client.directory.get_user(user["id"]).id == user["id"]
    assert len(sleeps) == 1


def test_one_reauthentication_after_token_revocation(emu: EntraEmulator, client: EntraClient) -> None:
    client.directory.get_user(some_user(emu, 4)["id"])
    tokens_before = len(calls(emu, path="/token"))
    assert emu.faults.revoke_tokens() >= 1
    user = some_user(emu, 5)
    assert client.directory.get_user(user["id"]).id == user["id"]
    assert [r.status for r in calls(emu, last_call(emu, user["id"]).client_request_id)] == [401, 200]
    assert len(calls(emu, path="/token")) == tokens_before + 1


def test_a_second_401_is_an_auth_error(emu: EntraEmulator, client: EntraClient) -> None:
    emu.faults.inject(401, count=5, path=USERS, method="GET")
    with pytest.raises(AuthError) as e:
        client.directory.get_user(some_user(emu, 6)["id"])
    assert (e.value.status, e.value.reason) == (401, Reason.AUTH_FAILED)
    assert len(calls(emu, e.value.client_request_id)) == 2


def test_throttled_registration_is_retried(emu: EntraEmulator, client: EntraClient, sleeps: Sleeps) -> None:
    user_id = some_user(emu, 7)["id"]
    reg = make_registration(client.passkeys.creation_options(user_id))
    emu.faults.inject(429, count=1, path=METHODS, method="POST", retry_after=2)
    method_id = client.passkeys.register(user_id, "key", **reg)
    assert method_id == url_token_encode(reg["credential_id"])
    assert sleeps == [2.0]


def test_registration_answered_503_is_uncertain_and_not_resent(emu: EntraEmulator, client: EntraClient,
                                                               sleeps: Sleeps) -> None:
    user_id = some_user(emu, 8)["id"]
    reg = make_registration(client.passkeys.creation_options(user_id))
    emu.faults.inject(503, count=1, path=METHODS, method="POST", retry_after=1)
    with pytest.raises(GraphUncertainError) as e:
        client.passkeys.register(user_id, "key", **reg)
    assert (e.value.status, e.value.reason, e.value.retryable) == (503, Reason.GRAPH_UNCERTAIN, True)
    assert len(calls(emu, e.value.client_request_id)) == 1
    assert sleeps == []
    assert client.passkeys.find_method_for_credential(user_id, reg["credential_id"]) is None


def test_lost_registration_response_is_resolved_by_reading(emu: EntraEmulator, client: EntraClient) -> None:
    user_id = some_user(emu, 9)["id"]
    reg = make_registration(client.passkeys.creation_options(user_id))
    emu.faults.lose_next_response(path=METHODS, method="POST")
    with pytest.raises(GraphUncertainError) as e:
        client.passkeys.register(user_id, "key", **reg)
    posts = calls(emu, e.value.client_request_id)
    assert len(posts) == 1 and posts[0].lost
    method_id = client.passkeys.find_method_for_credential(user_id, reg["credential_id"])
    assert method_id is not None
    assert [m.id for m in emu.tenant.methods_of(user_id)] == [method_id]


def test_registration_read_timeout_is_uncertain(emu: EntraEmulator, tmp_path: Path) -> None:
    user_id = some_user(emu, 10)["id"]
    with make_client(emu, tmp_path, read_timeout=0.3) as c:
        reg = make_registration(c.passkeys.creation_options(user_id))
        emu.faults.latency_ms = 800
        try:
            with pytest.raises(GraphUncertainError) as e:
                c.passkeys.register(user_id, "key", **reg)
            deadline = time.monotonic() + 5
            while not calls(emu, e.value.client_request_id) and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            emu.faults.latency_ms = 0
        assert len(calls(emu, e.value.client_request_id)) == 1
        assert c.passkeys.find_method_for_credential(user_id, reg["credential_id"]) == url_token_encode(
            reg["credential_id"])
