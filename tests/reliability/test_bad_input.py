"""Bad input, fuzzed: CSV files, configuration (TOML and STATION_* environment), Graph's JSON answers and
control-socket lines. Each either works or ends in a clear StationError (ConfigError for configuration)
with a message — no other exception escapes — and nothing is half-written.
"""

from __future__ import annotations

import io
import json
import logging
import socket
import string
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from requests.adapters import BaseAdapter
from rig import station_config

from station.config import load_config
from station.control import ControlServer
from station.control_guard import MAX_REQUEST_BYTES
from station.entra import EntraClient
from station.errors import ConfigError, StationError
from station.events import EventBus
from station.store import Store
from station.store.csv_import import read_people_csv
from station.store.queue import PersonView
from station_emulator.entra import EntraEmulator

FUZZ = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# -- CSV -------------------------------------------------------------------------------------------
CSV_WORDS = ["upn", "display_name", "object_id", "priority", "key_serial", "UPN", "name", "", " ", '"', '""',
             "a@b.example", "x@contoso.example", "no-at-sign", "0f8fad5b-d9cb-469f-a165-70867728950e", "not-a-guid",
             "12", "-3", "1e9", "99999999999999999999", "é@ü.example", "\u202e@x.example", "a" * 400 + "@x.example"]
csv_cells = st.one_of(st.sampled_from(CSV_WORDS), st.text(max_size=12))
csv_text = st.lists(st.lists(csv_cells, min_size=0, max_size=6), max_size=8).flatmap(
    lambda rows: st.sampled_from([",", ";", "\t"]).map(lambda d: "\n".join(d.join(r) for r in rows)))
csv_bytes = st.one_of(
    csv_text.map(lambda t: ("upn,display_name\n" + t).encode()),
    csv_text.map(str.encode),
    st.binary(max_size=300),
    csv_text.map(lambda t: b"\xef\xbb\xbf" + t.encode("utf-8") + b"\xff"),
)


def test_csv_import_fails_clearly_or_adds_everyone(tmp_path: Path, store: Store) -> None:
    target = tmp_path / "people.csv"

    @FUZZ
    @given(raw=csv_bytes)
    def one(raw: bytes) -> None:
        target.write_bytes(raw)
        before = store.queue.counts()
        try:
            people = list(read_people_csv(target))
        except StationError as e:
            assert e.message and e.remedy
            assert store.queue.counts() == before, "a rejected file changed the queue"
            return
        result = store.queue.add_people(people)
        assert result.added + result.updated + result.unchanged == len({p.upn.lower() for p in people})

    one()


# -- configuration ---------------------------------------------------------------------------------
TOML_KEYS = {
    "station": ["id", "name", "log_level", "state_dir"],
    "tenant": ["tenant_id", "client_id", "authority_host", "graph_version", "read_timeout", "connect_timeout"],
    "store": ["url"],
    "enrolment": ["pin_length", "pin_alphabet", "min_pin_length", "required_features", "allowed_aaguids",
                  "used_key", "lease_seconds", "prefetch", "display_name_template", "touch_timeout_seconds"],
    "nonsense": ["x"],
}
toml_values = st.one_of(st.integers(-10**20, 10**20), st.floats(allow_nan=True), st.booleans(),
                        st.text(alphabet=string.printable, max_size=20),
                        st.lists(st.text(alphabet=string.ascii_letters, max_size=8), max_size=3),
                        st.sampled_from(['"https://x"', '"sqlite:///x.db"', '"debug"', '"reset"', '"{model}"',
                                         '"{nope}"', '[1, "a"]', "{a = 1}", "nan", "inf", '"\\u0000"']))
toml_lines = st.lists(st.sampled_from([(s, k) for s, keys in TOML_KEYS.items() for k in keys]).flatmap(
    lambda sk: toml_values.map(lambda v: (sk[0], sk[1], v))), max_size=8)
env_values = st.dictionaries(
    st.sampled_from([f"STATION_{s.upper()}_{k.upper()}" for s, keys in TOML_KEYS.items() for k in keys]),
    st.text(alphabet=string.printable, max_size=15), max_size=3)


def _render(value: Any) -> str:
    if isinstance(value, str) and (value[:1] in '"[{' or value in ("nan", "inf")):
        return value
    return json.dumps(value)


def test_configuration_fails_clearly(tmp_path: Path) -> None:
    path = tmp_path / "station.toml"

    @FUZZ
    @given(lines=toml_lines, env=env_values, garbage=st.sampled_from(["", "[[x]]", "a = ", "= 1", "\x00", "[tenant"]))
    def one(lines: list[tuple[str, str, Any]], env: dict[str, str], garbage: str) -> None:
        sections: dict[str, list[str]] = {}
        for section, key, value in lines:
            sections.setdefault(section, []).append(f"{key} = {_render(value)}")
        text = "".join(f"[{s}]\n" + "\n".join(body) + "\n" for s, body in sections.items()) + garbage
        path.write_text(text)
        try:
            load_config(path, environ=env)
        except ConfigError as e:
            assert e.message and e.problems, f"{e.message!r} names no problem"

    one()


# -- Graph's JSON answers, through the Entra client ------------------------------------------------
ODD_BASE64 = ["", "=", "==", "a", "ab=", "abc==", "A-_+/", "%%%", "YQ", "YQ=", "YQ==", "YQ===", " YQ== ",
              "\u00e9\u00e9", "A" * 5000]
json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                      st.sampled_from(ODD_BASE64), st.text(max_size=10))
json_any = st.recursive(json_leaf, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=15)


def _options(challenge: Any, user_id: Any, exclude: Any, rp: Any, extra: dict[str, Any]) -> dict[str, Any]:
    pk = {"challenge": challenge, "rp": rp, "user": {"id": user_id, "name": "a@x", "displayName": "A"},
          "pubKeyCredParams": [{"type": "public-key", "alg": -7}], "excludeCredentials": exclude}
    pk.update(extra)
    return {"publicKey": pk, "challengeTimeoutDateTime": extra.get("timeout", "2030-01-01T00:00:00Z")}


graph_bodies = st.one_of(
    json_any,
    st.builds(_options, st.one_of(st.sampled_from(ODD_BASE64), json_leaf), st.one_of(st.sampled_from(ODD_BASE64),
              json_leaf), st.one_of(st.lists(st.fixed_dictionaries({"id": json_leaf}), max_size=3), json_any),
              st.one_of(st.fixed_dictionaries({"id": st.text(max_size=10)}), json_any),
              st.dictionaries(st.sampled_from(["timeout", "pubKeyCredParams", "extensions", "user"]), json_any,
                              max_size=2)),
    st.fixed_dictionaries({"value": st.lists(st.fixed_dictionaries({"id": json_leaf, "aaGuid": json_leaf,
                                                                    "userPrincipalName": json_leaf,
                                                                    "displayName": json_leaf}), max_size=3)}),
    st.binary(max_size=50).map(lambda b: b.decode("latin-1")),
)


class CannedGraph(BaseAdapter):
    """Answers every Graph call with one body (then empty pages): what a broken or hostile Graph might say."""

    def __init__(self) -> None:
        super().__init__()
        self.body = b"{}"
        self.served = 0

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None,
             verify: Any = True, cert: Any = None, proxies: Any = None) -> requests.Response:
        response = requests.Response()
        response.status_code = 201 if request.method == "POST" else 200
        response.headers["Content-Type"] = "application/json"
        body = self.body if self.served == 0 else b'{"value": []}'
        response.raw = io.BytesIO(body)  # a body to stream, as a connection gives it: the client reads it capped
        response.headers["Content-Length"] = str(len(body))
        response.url = str(request.url)
        response.request = request
        self.served += 1
        return response

    def close(self) -> None:
        return None


@pytest.fixture(scope="module")
def emu() -> Iterator[EntraEmulator]:
    with EntraEmulator(users=3, seed=77) as e:
        yield e


def test_graph_answers_fail_clearly(emu: EntraEmulator, tmp_path: Path) -> None:
    client = EntraClient(station_config(emu, tmp_path))
    client.tokens.token()
    canned = CannedGraph()
    client.session.mount(f"{emu.base_url}/v1.0/", canned)
    calls = [
        lambda: client.passkeys.creation_options("u1"),
        lambda: client.passkeys.list_methods("u1"),
        lambda: client.passkeys.find_method_for_credential("u1", b"\x01\x02"),
        lambda: client.passkeys.register("u1", "Key", b"\x01", b"{}", b"\xa0", {}),
        lambda: client.directory.get_user("a@x.example"),
        lambda: list(client.directory.group_members("g1")),
        lambda: client.directory.delta(),
    ]

    @FUZZ
    @given(body=graph_bodies, which=st.integers(0, len(calls) - 1))
    def one(body: Any, which: int) -> None:
        canned.body = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        canned.served = 0
        try:
            calls[which]()
        except StationError as e:
            assert e.message

    try:
        one()
    finally:
        client.close()


# -- control-socket lines --------------------------------------------------------------------------
class QueueControls:
    """The control socket's view of a station: intake and the real queue."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.paused = False

    def pause_intake(self) -> None:
        self.paused = True

    def resume_intake(self) -> None:
        self.paused = False

    def retry_person(self, upn: str) -> PersonView:
        return self.store.queue.retry(upn)

    def skip_person(self, upn: str) -> PersonView:
        return self.store.queue.skip(upn)

    def cancel_slot(self, slot: str) -> bool:
        return False


control_requests = st.one_of(
    st.binary(max_size=200).map(lambda b: b.replace(b"\n", b" ") + b"\n"),
    st.fixed_dictionaries({"v": st.one_of(st.just(1), json_leaf), "cmd": st.one_of(
        st.sampled_from(["status", "pause", "resume", "retry", "skip", "cancel", "subscribe!", "STATUS"]), json_any)},
        optional={"upn": json_any, "slot": json_any, "ok": json_any}).map(lambda d: json.dumps(d).encode() + b"\n"),
    st.just(b"x" * (MAX_REQUEST_BYTES + 10) + b"\n"),
)


def test_control_socket_answers_every_line(tmp_path: Path, store: Store,
                                           caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "control.sock"
    bus = EventBus()
    server = ControlServer(path, status=lambda: {"summary": "idle"}, controls=QueueControls(store), bus=bus)
    server.start()

    def ask(line: bytes) -> list[dict[str, Any]]:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(str(path))
            s.sendall(line)
            s.shutdown(socket.SHUT_WR)
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        return [json.loads(x) for x in data.splitlines()]

    @FUZZ
    @given(line=control_requests)
    def one(line: bytes) -> None:
        replies = ask(line)
        if not line.strip():
            return
        assert len(replies) == 1, replies
        reply = replies[0]
        assert reply.get("ok") in (True, False)
        if reply["ok"] is False:
            assert reply["error"]["message"] and reply["error"]["reason"]

    caplog.set_level(logging.ERROR, logger="station.control")
    try:
        one()
        assert ask(b'{"v": 1, "cmd": "status"}\n') == [{"ok": True, "status": {"summary": "idle"}}]
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "a control line raised"
    finally:
        server.stop()
        bus.close()
    assert not [t for t in threading.enumerate() if "control" in t.name.lower() and t.is_alive()]

