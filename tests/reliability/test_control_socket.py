"""The control socket under hostile or broken clients: it refuses, bounds, drops — and keeps serving.

Against the real daemon as a process (``station_proc.py``): a peer outside the station group (a child
process running as uid/gid 65534, identified by SO_PEERCRED) may read the status and subscribe but is
refused every command that changes something, and 70 idle connections from it take only its share of
the connections (the rest refused, with one log line) while root's status and commands go on; an
over-long request line is answered with an error and the same connection goes on; a client streaming
megabytes without a newline is cut off without the daemon's memory growing; a subscriber that never
reads is dropped while status and a healthy subscriber carry on; idle connections cannot pile up threads
beyond a cap.

Against a ``ControlServer`` in this process (short timeouts): a connection that sends nothing, dribbles
a request one byte at a time, or never reads its replies, is closed; a handler failing half-way still
ends the client's connection at once; ``ControlClient`` never waits forever on a daemon that stopped
answering.
"""
from __future__ import annotations

import json
import logging
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from realstack import require
from rig import StationProcess, station_config, wait_until, write_toml

from station.control import MAX_CONNECTIONS, ControlServer
from station.control_client import ControlClient
from station.control_guard import MAX_CONNECTIONS_PER_USER
from station.errors import ControlError, Reason
from station.events import Event, EventBus
from station.store import NewPerson, open_store
from station_emulator.entra import EntraEmulator

NOBODY = 65534
STATUS = b'{"v": 1, "cmd": "status"}\n'


@dataclass
class Running:
    proc: StationProcess
    path: Path
    upn: str

    def client(self, timeout: float = 10.0) -> ControlClient:
        return ControlClient(self.path, timeout=timeout)

    def rss_kib(self) -> int:
        return _proc_field(self.proc.pid, "VmRSS")

    def threads(self) -> int:
        return _proc_field(self.proc.pid, "Threads")

    def log(self) -> str:
        return self.proc.log()


def _proc_field(pid: int, name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {name} for pid {pid}")


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    tmp = tmp_path_factory.mktemp("ctl")
    # A runtime directory others may enter, so that a process running as nobody can reach the socket.
    runtime = Path(tempfile.mkdtemp(prefix="st-ctl-", dir="/tmp"))
    os.chmod(runtime, 0o755)
    (runtime / "run").mkdir()
    os.chmod(runtime / "run", 0o755)  # the daemon makes its socket directory 0750; this one stays as it is
    with EntraEmulator(users=4, seed=3131) as emu:
        cfg = station_config(emu, tmp)
        cfg = cfg.model_copy(update={"station": cfg.station.model_copy(update={"runtime_dir": runtime / "run"})})
        user = sorted(emu.tenant.users.values(), key=lambda u: str(u["userPrincipalName"]))[0]
        store = open_store(cfg.store_url, cfg.station.id)
        try:
            store.queue.add_people([NewPerson(upn=str(user["userPrincipalName"]), display_name="A Person",
                                              object_id=str(user["id"]), source="test")])
        finally:
            store.close()
        proc = StationProcess(write_toml(cfg, tmp / "station.toml"), tmp / "station.log")
        path = runtime / "run" / "control.sock"
        try:
            wait_until(path.exists, 30, f"the control socket; log:\n{proc.tail()}")
            yield Running(proc, path, str(user["userPrincipalName"]))
            assert proc.stop() == 0, proc.tail()
        finally:
            proc.ensure_gone()
            shutil.rmtree(runtime, ignore_errors=True)


def connect(path: Path, timeout: float = 10.0) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(str(path))  # blocking: waits while the listen backlog is full
    s.settimeout(timeout)
    return s


# -- SO_PEERCRED -----------------------------------------------------------------------------------
def as_nobody(path: Path, requests: list[bytes]) -> list[dict[str, Any]]:
    """One reply per request, sent from a forked child that dropped to uid/gid 65534 with no groups."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            answers = []
            for request in requests:
                # subscribe keeps its connection: every request on a connection of its own
                with connect(path) as s:
                    s.sendall(request)
                    answers.append(s.makefile("rb").readline())
            os.write(write_end, b"".join(answers))
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the process running as nobody could not talk to the daemon"
    return [json.loads(line) for line in data.splitlines()]


def test_a_peer_outside_the_group_may_read_but_not_control(daemon: Running) -> None:
    require(os.geteuid() == 0, "running a client as another user needs root")
    os.chmod(daemon.path, 0o666)
    try:
        requests = [{"cmd": "status"}, {"cmd": "subscribe"}, {"cmd": "keys"}, {"cmd": "pause"}, {"cmd": "resume"},
                    {"cmd": "skip", "upn": daemon.upn}, {"cmd": "retry", "upn": daemon.upn},
                    {"cmd": "cancel", "slot": "Virtual 1"}, {"cmd": "replace_key", "upn": daemon.upn},
                    {"cmd": "revoke_key", "identity": "31415926", "reason": "lost"},
                    {"cmd": "handout", "upn": daemon.upn}]
        replies = as_nobody(daemon.path, [json.dumps({"v": 1, **r}).encode() + b"\n" for r in requests])
    finally:
        os.chmod(daemon.path, 0o660)
    status, subscribed, keys, *changes = replies
    assert status["ok"] is True and status["status"]["queue"]["queued"] == 1
    assert subscribed == {"ok": True}
    assert keys == {"ok": True, "keys": []}, "the key inventory is readable, as the status is"
    for request, reply in zip(requests[3:], changes, strict=True):
        assert reply["ok"] is False, f"{request} was allowed to uid 65534"
        assert reply["error"]["reason"] == "control_denied", reply
        assert f"uid {NOBODY}" in reply["error"]["message"] and "station" in reply["error"]["remedy"]
    after = daemon.client().status()
    assert after["paused"] is False and after["queue"]["queued"] == 1 and after["queue"]["skipped"] == 0
    assert daemon.client().command("pause")["paused"] is True, "root may still control the daemon"
    daemon.client().command("resume")


def flood_as_nobody(path: Path, count: int, release: threading.Event) -> dict[str, Any]:
    """Open ``count`` connections as uid 65534 and hold them until ``release``; report how many were refused
    (answered with an error and closed at once) and one refusal."""
    report_r, report_w = os.pipe()
    release_r, release_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(report_r)
            os.close(release_w)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            held = [connect(path) for _ in range(count)]
            refusals, pending = [], list(held)
            # A refused connection is answered at once; an admitted one waits for a request and stays silent.
            while ready := select.select(pending, [], [], 2.0)[0]:
                for s in ready:
                    pending.remove(s)
                    line = s.makefile("rb").readline()
                    if line:
                        refusals.append(json.loads(line))
            os.write(report_w, json.dumps({"refused": len(refusals), "first": refusals[:1]}).encode())
            os.close(report_w)
            os.read(release_r, 1)
            code = 0
        finally:
            os._exit(code)
    os.close(report_w)
    os.close(release_r)
    with os.fdopen(report_r, "rb") as pipe:
        report = json.loads(pipe.read() or b"{}")

    def wait_for_release() -> None:
        release.wait(120)
        os.write(release_w, b"x")
        os.close(release_w)
        os.waitpid(pid, 0)

    threading.Thread(target=wait_for_release, daemon=True).start()
    return report


def test_an_unprivileged_flood_does_not_lock_root_out(daemon: Running) -> None:
    require(os.geteuid() == 0, "running a client as another user needs root")
    os.chmod(daemon.path, 0o666)
    release = threading.Event()
    try:
        report = flood_as_nobody(daemon.path, 70, release)
        assert report["refused"] == 70 - MAX_CONNECTIONS_PER_USER, report
        refusal = report["first"][0]["error"]
        assert refusal["reason"] == "daemon_unavailable"
        assert f"uid {NOBODY} has {MAX_CONNECTIONS_PER_USER} control connections open" in refusal["message"]
        status = subprocess.run([sys.executable, "-m", "station.cli", "status", "--socket", str(daemon.path)],
                                capture_output=True, text=True, timeout=60)
        assert status.returncode == 0 and "queue:" in status.stdout, status.stderr
        assert daemon.client().command("pause")["paused"] is True
        daemon.client().command("resume")
    finally:
        release.set()
        os.chmod(daemon.path, 0o660)
    refusal_lines = [line for line in daemon.log().splitlines() if "refusing a control connection" in line]
    assert 1 <= len(refusal_lines) <= 2, f"{70 - MAX_CONNECTIONS_PER_USER} refusals logged as:\n" + \
        "\n".join(refusal_lines)


# -- message size ----------------------------------------------------------------------------------
def test_an_over_long_line_is_refused_and_the_connection_goes_on(daemon: Running) -> None:
    with connect(daemon.path) as s:
        reader = s.makefile("rb")
        s.sendall(b'{"v": 1, "cmd": "pause", "pad": "' + b"x" * 200_000 + b'"}\n' + STATUS)
        refused, status = json.loads(reader.readline()), json.loads(reader.readline())
    assert refused["ok"] is False and refused["error"]["reason"] == "control_invalid"
    assert "64 KiB" in refused["error"]["message"]
    assert status["ok"] is True and status["status"]["paused"] is False, "the over-long pause was not obeyed"


def test_megabytes_without_a_newline_are_cut_off_without_growing_memory(daemon: Running) -> None:
    before = daemon.rss_kib()
    chunk = b"y" * 65536
    sent = 0
    with connect(daemon.path) as s:
        reader = s.makefile("rb")
        with pytest.raises(OSError):
            while sent < 64 * 2**20:
                s.sendall(chunk)
                sent += len(chunk)
        reply = json.loads(reader.readline())
        read_to_end(s)
    assert reply["ok"] is False and "64 KiB" in reply["error"]["message"]
    assert sent < 4 * 2**20, f"the daemon took {sent / 2**20:.1f} MiB without a newline"
    grew = daemon.rss_kib() - before
    assert grew < 8 * 1024, f"the daemon's memory grew by {grew} KiB"
    assert daemon.proc.proc.poll() is None and daemon.client().status()["v"] == 1


# -- clients that do not read ----------------------------------------------------------------------
def test_a_subscriber_that_never_reads_is_dropped_and_blocks_nobody(daemon: Running) -> None:
    stuck = connect(daemon.path)
    stuck.sendall(b'{"v": 1, "cmd": "subscribe"}\n')
    final: list[float] = []
    heard_final = threading.Event()

    def follow() -> None:
        for event in daemon.client().subscribe():
            if final and event["kind"] == "IntakeChanged" and event["at"] >= final[0]:
                heard_final.set()
                return

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    slowest, toggles = 0.0, 0
    with connect(daemon.path) as flipper:
        replies = flipper.makefile("rb")
        while "dropping a control subscriber" not in daemon.log():
            assert toggles < 20_000, "the subscriber that never reads was not dropped"
            flipper.sendall(b'{"v": 1, "cmd": "pause"}\n{"v": 1, "cmd": "resume"}\n' * 50)
            assert all(json.loads(replies.readline())["ok"] is True for _ in range(100))
            toggles += 100
            started = time.monotonic()
            assert daemon.client(timeout=5).status()["v"] == 1
            slowest = max(slowest, time.monotonic() - started)
        final.append(time.time())
        flipper.sendall(b'{"v": 1, "cmd": "pause"}\n{"v": 1, "cmd": "resume"}\n')
        assert json.loads(replies.readline())["ok"] and json.loads(replies.readline())["ok"]
    assert slowest < 2.0, f"status took {slowest:.2f} s while a subscriber was stuck"
    assert heard_final.wait(10), "a healthy subscriber stopped hearing events"
    follower.join(5)
    # The stuck client gets what was already sent, then the end of its stream — not an endless wait.
    stuck.settimeout(10)
    received = read_to_end(stuck)
    stuck.close()
    assert received > 0
    assert daemon.client().status()["paused"] is False


def read_to_end(s: socket.socket) -> int:
    """Bytes until the daemon ends the connection (a reset counts as an end; a timeout fails the test)."""
    received = 0
    try:
        while chunk := s.recv(65536):
            received += len(chunk)
    except ConnectionResetError:
        pass
    return received


def settled_threads(daemon: Running, quiet: float = 1.0, timeout: float = 15.0) -> int:
    """The daemon's thread count once no thread has come or gone for ``quiet`` seconds. An earlier test's
    connection is served by a thread that ends only after its client has gone (a subscriber's within half
    a second); counted in a baseline, it would be missing later and make the count wrong by one."""
    deadline = time.monotonic() + timeout
    count, since = daemon.threads(), time.monotonic()
    while time.monotonic() - since < quiet:
        if time.monotonic() > deadline:
            raise AssertionError(f"the daemon's thread count did not settle in {timeout} s")
        time.sleep(0.05)
        now = daemon.threads()
        if now != count:
            count, since = now, time.monotonic()
    return count


def test_idle_connections_are_capped_and_cost_no_lasting_thread(daemon: Running) -> None:
    threads_before = settled_threads(daemon)
    idle = [connect(daemon.path) for _ in range(MAX_CONNECTIONS)]
    try:
        wait_until(lambda: daemon.threads() >= threads_before + MAX_CONNECTIONS, 10, "a thread per connection")
        with pytest.raises(ControlError) as turned_away:
            daemon.client().status()
        assert turned_away.value.reason is Reason.DAEMON_UNAVAILABLE
        assert f"{MAX_CONNECTIONS} control connections at once" in turned_away.value.message
        assert daemon.threads() <= threads_before + MAX_CONNECTIONS, "a thread beyond the cap"
    finally:
        for s in idle:
            s.close()
    wait_until(lambda: daemon.threads() <= threads_before, 10, "the idle connections' threads ending")
    assert daemon.client().status()["v"] == 1


# -- timeouts, in this process ---------------------------------------------------------------------
class Intake:
    """The control socket's view of a station's intake."""

    def __init__(self) -> None:
        self.paused = False

    def pause_intake(self) -> None:
        self.paused = True

    def resume_intake(self) -> None:
        self.paused = False

    def retry_person(self, upn: str) -> dict[str, str]:
        return {"upn": upn, "state": "queued"}

    def skip_person(self, upn: str) -> dict[str, str]:
        return {"upn": upn, "state": "skipped"}

    def cancel_slot(self, slot: str) -> bool:
        return False


@pytest.fixture
def server() -> Iterator[Callable[..., tuple[ControlServer, EventBus]]]:
    started: list[tuple[ControlServer, EventBus, Path]] = []

    def start(**kw: Any) -> tuple[ControlServer, EventBus]:
        directory = Path(tempfile.mkdtemp(prefix="st-ctl-", dir="/tmp"))
        bus = EventBus()
        srv = ControlServer(directory / "control.sock", status=lambda: {"v": 1}, controls=Intake(), bus=bus, **kw)
        srv.start()
        started.append((srv, bus, directory))
        return srv, bus

    yield start
    for srv, bus, directory in started:
        srv.stop()
        bus.close()
        shutil.rmtree(directory, ignore_errors=True)


def control_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name == "control-client" and t.is_alive())


def test_a_silent_connection_is_closed_after_the_idle_timeout(server: Callable[..., Any]) -> None:
    srv, _ = server(idle_timeout=0.5)
    with connect(srv.path) as silent:
        started = time.monotonic()
        assert silent.recv(1) == b"", "the silent connection is closed"
        assert time.monotonic() - started < 3
    wait_until(lambda: control_threads() == 0, 5, "the silent connection's thread ending")
    assert ControlClient(srv.path).status() == {"v": 1}


def test_a_request_dribbled_a_byte_at_a_time_is_cut_at_the_line_deadline(server: Callable[..., Any]) -> None:
    # Each byte comes well within the idle timeout; the whole line would take 8 s, beyond its 1 s deadline.
    srv, _ = server(idle_timeout=5.0, request_timeout=1.0)
    line = b'{"v": 1, "cmd": "status", "pad": "' + b"z" * 40 + b'"}\n'
    sent = 0
    with connect(srv.path) as slow:
        slow.settimeout(0.1)
        try:
            for byte in line:
                slow.sendall(bytes([byte]))
                sent += 1
                try:
                    if slow.recv(1) == b"":
                        break
                except TimeoutError:
                    pass
        except OSError:
            pass
    assert sent < len(line), "a request dribbled one byte at a time kept its connection to the end"
    wait_until(lambda: control_threads() == 0, 5, "the dribbling connection's thread ending")
    assert ControlClient(srv.path).status() == {"v": 1}


def test_a_client_that_never_reads_its_replies_is_closed(server: Callable[..., Any]) -> None:
    srv, _ = server(send_timeout=0.5)
    hog = connect(srv.path)
    with pytest.raises(OSError):
        for _ in range(20_000):  # far more replies than the socket buffers hold
            hog.sendall(STATUS * 50)
    wait_until(lambda: control_threads() == 0, 5, "the hog's thread ending")
    hog.close()
    assert ControlClient(srv.path, timeout=2).status() == {"v": 1}


@dataclass(frozen=True)
class Unprintable(Event):
    """An event whose serialisation fails (a bug elsewhere), as a handler failure half-way through."""

    def to_dict(self) -> dict[str, Any]:
        raise RuntimeError("cannot serialise this event")


def test_a_handler_failing_half_way_ends_the_clients_connection(server: Callable[..., Any],
                                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="station.control")  # the kept record holds the failed frame
    srv, bus = server()
    events = ControlClient(srv.path, timeout=3).subscribe()
    ended = threading.Event()

    def follow() -> None:
        try:
            for _ in events:
                pass
        except ControlError:
            pass
        ended.set()

    threading.Thread(target=follow, daemon=True).start()
    wait_until(lambda: control_threads() == 1, 5, "the subscription")
    time.sleep(0.2)
    bus.publish(Unprintable())
    assert ended.wait(2), "the client still waits on a connection whose handler failed"
    assert any("control connection failed" in r.getMessage() for r in caplog.records)


def test_status_at_a_daemon_that_never_answers_is_an_error_not_a_hang(tmp_path: Path) -> None:
    path = Path(tempfile.mkdtemp(prefix="st-ctl-", dir="/tmp")) / "control.sock"
    mute = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    mute.bind(str(path))
    mute.listen(4)
    try:
        started = time.monotonic()
        with pytest.raises(ControlError) as silent:
            ControlClient(path, timeout=0.5).status()
        assert time.monotonic() - started < 3
        assert silent.value.reason is Reason.DAEMON_UNAVAILABLE and "stopped answering" in silent.value.message
    finally:
        mute.close()
        shutil.rmtree(path.parent, ignore_errors=True)


def test_a_subscription_whose_daemon_goes_silent_ends(tmp_path: Path) -> None:
    path = Path(tempfile.mkdtemp(prefix="st-ctl-", dir="/tmp")) / "control.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)
    held: list[socket.socket] = []

    def answer_once_then_hang() -> None:
        conn, _ = listener.accept()
        held.append(conn)
        conn.recv(1024)
        conn.sendall(b'{"ok": true}\n{"event": {"kind": "IntakeChanged", "paused": true}}\n')

    threading.Thread(target=answer_once_then_hang, daemon=True).start()
    try:
        client = ControlClient(path, timeout=0.5, silence=1.0)
        seen: list[dict[str, Any]] = []
        started = time.monotonic()
        with pytest.raises(ControlError) as silent:
            for event in client.subscribe():
                seen.append(event)
        assert seen == [{"kind": "IntakeChanged", "paused": True}]
        assert time.monotonic() - started < 5
        assert "stopped answering" in silent.value.message
    finally:
        for conn in held:
            conn.close()
        listener.close()
        shutil.rmtree(path.parent, ignore_errors=True)
