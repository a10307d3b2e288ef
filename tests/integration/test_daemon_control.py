"""The control socket of a running daemon (a subprocess), as `station status` and the dashboard use it.

What an operator relies on: the status snapshot says what the station is doing in the documented shape;
pause/resume, retry/skip and cancel act and answer; a malformed or unknown request gets an explained
error and the daemon carries on; someone outside the station group may look (status, the fleet) but not
touch; a subscriber sees events as they happen.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from daemon_harness import DaemonProcess, daemon_with_queue
from realstack import require
from support.wire_shape import shape_problems

from station.errors import ControlError
from station.wire import StatusSnapshot

NOBODY = 65534


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    with daemon_with_queue(tmp_path_factory.mktemp("control"), users=8, seed=11, queued=7,
                           station_id="desk-3") as d:
        yield d


def raw(daemon: DaemonProcess, payload: bytes) -> list[dict[str, Any]]:
    """Send raw bytes; every reply line until the daemon has answered each request line."""
    expected = payload.count(b"\n")
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(str(daemon.control_path))
        s.sendall(payload)
        reader = s.makefile("rb")
        return [json.loads(reader.readline()) for _ in range(expected)]


def test_status_snapshot_has_the_documented_shape(daemon: DaemonProcess) -> None:
    status = daemon.client().status()
    assert shape_problems(status, StatusSnapshot) == []
    assert status["v"] == 1
    assert status["station"]["id"] == "desk-3" and status["station"]["pid"] == daemon.proc.pid
    assert status["state"] == "idle" and status["paused"] is False
    assert status["queue"] == {"queued": 7, "claimed": 0, "enrolled": 0, "failed": 0, "skipped": 0}
    assert status["today"] == {"enrolled": 0, "failed": 0}
    assert status["slots"] == [] and status["finished"] == []
    assert len(status["next_up"]) == 5 and set(status["next_up"][0]) == {"upn", "display_name"}
    assert status["entra"]["token_ok"] is True and status["entra"]["throttled"] is False
    assert any(w.startswith("USB:") for w in status["watchers"])
    assert any(w.startswith("NFC:") for w in status["watchers"])
    assert status["summary"] == "idle · 7 queued · 0 enrolled today"


def test_station_status_prints_the_summary(daemon: DaemonProcess) -> None:
    text = daemon.station("status")
    assert text.returncode == 0, text.stderr
    assert "idle · 7 queued · 0 enrolled today" in text.stdout
    assert "Entra ID: token OK" in text.stdout
    assert "queue: 7 queued · 0 claimed · 0 enrolled" in text.stdout


def test_pause_and_resume_intake(daemon: DaemonProcess) -> None:
    client = daemon.client()
    assert client.command("pause") == {"ok": True, "paused": True}
    status = client.status()
    assert status["state"] == "paused" and status["paused"] is True
    assert client.command("resume") == {"ok": True, "paused": False}
    assert client.status()["state"] == "idle"


def test_skip_and_retry_a_person(daemon: DaemonProcess) -> None:
    client = daemon.client()
    upn = client.status()["next_up"][0]["upn"]
    skipped = client.command("skip", upn=upn)
    assert skipped["person"]["state"] == "skipped"
    assert upn not in [p["upn"] for p in client.status()["next_up"]]
    assert client.command("retry", upn=upn)["person"]["state"] == "queued"
    assert client.status()["next_up"][0]["upn"] == upn


@pytest.mark.parametrize(("request_", "reason", "words"), [
    ({"cmd": "retry", "upn": "nobody@contoso.example"}, "not_found", "nobody@contoso.example"),
    ({"cmd": "skip"}, "control_invalid", '"upn"'),
    ({"cmd": "cancel", "slot": "USB 9-9"}, "not_found", "USB 9-9"),
    ({"cmd": "reboot"}, "control_invalid", "unknown command"),
])
def test_refused_commands_say_why(daemon: DaemonProcess, request_: dict[str, Any], reason: str, words: str) -> None:
    args = dict(request_)
    with pytest.raises(ControlError) as refused:
        daemon.client().command(args.pop("cmd"), **args)
    assert refused.value.reason == reason
    assert words in refused.value.message
    assert refused.value.remedy


def test_malformed_requests_get_error_replies_and_the_connection_goes_on(daemon: DaemonProcess) -> None:
    replies = raw(daemon, b"garbage\n[1, 2]\n{\"v\": 2, \"cmd\": \"status\"}\n{\"cmd\": \"status\"}\n"
                          b"\xff\xfe\n{\"v\": 1, \"cmd\": \"status\"}\n")
    assert [r["ok"] for r in replies] == [False, False, False, False, False, True]
    assert "not JSON" in replies[0]["error"]["message"]
    assert "JSON object" in replies[1]["error"]["message"]
    assert "version 2" in replies[2]["error"]["message"]
    assert all(set(r["error"]) == {"reason", "message", "remedy"} for r in replies[:5])
    assert replies[5]["status"]["v"] == 1
    (too_long,) = raw(daemon, b"{\"v\": 1, \"cmd\": \"status\", \"pad\": \"" + b"x" * 70000 + b"\"}\n")
    assert too_long["ok"] is False and "64 KiB" in too_long["error"]["message"]
    assert daemon.proc.poll() is None, "the daemon carries on"


def test_a_peer_outside_the_station_group_may_look_but_not_touch(daemon: DaemonProcess) -> None:
    require(os.geteuid() == 0, "switching to another user needs root")
    path = daemon.control_path
    os.chmod(path, 0o666)
    os.chmod(path.parent, 0o755)
    os.chmod(path.parent.parent, 0o755)
    try:
        replies = as_user(NOBODY, str(path), [b'{"v": 1, "cmd": "status"}\n', b'{"v": 1, "cmd": "fleet"}\n',
                                              b'{"v": 1, "cmd": "pause"}\n'])
    finally:
        os.chmod(path, 0o660)
    status, fleet, pause = replies
    assert status["ok"] is True and status["status"]["state"] == "idle"
    assert fleet["ok"] is True
    assert [(st["id"], st["state"]) for st in fleet["fleet"]["stations"]] == [("desk-3", "alive")]
    assert fleet["fleet"]["queue"] == status["status"]["queue"]
    assert pause["ok"] is False and pause["error"]["reason"] == "control_denied"
    assert "station" in pause["error"]["remedy"]
    assert daemon.client().status()["paused"] is False


def as_user(uid: int, path: str, requests: list[bytes]) -> list[dict[str, Any]]:
    """Send requests from a forked child that dropped to ``uid`` (a real peer credential, not a flag)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            answers = []
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(10)
                s.connect(path)
                reader = s.makefile("rb")
                for request in requests:
                    s.sendall(request)
                    answers.append(reader.readline())
            os.write(write_end, b"".join(answers))
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the unprivileged client could not talk to the daemon"
    return [json.loads(line) for line in data.splitlines()]


def test_a_subscriber_sees_events_as_they_happen(daemon: DaemonProcess) -> None:
    seen: list[dict[str, Any]] = []
    got_two = threading.Event()
    subscribed = daemon.client().subscribe()

    def follow() -> None:
        for event in subscribed:
            seen.append(event)
            if len([e for e in seen if e["kind"] == "IntakeChanged"]) >= 2:
                got_two.set()
                return

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    client = daemon.client()
    deadline = threading.Event()
    while not got_two.is_set() and not deadline.wait(0.3):
        client.command("pause")
        client.command("resume")
    assert got_two.wait(10)
    changes = [e for e in seen if e["kind"] == "IntakeChanged"]
    assert {c["paused"] for c in changes} == {True, False}
    assert all(isinstance(c["at"], float) for c in changes)
    subscribed.close()
    assert client.status()["paused"] is False

