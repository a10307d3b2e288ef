"""`station run` as systemd runs it: a subprocess speaking sd_notify to a test socket, stopped by signals.

What an operator relies on: systemd learns READY=1 only once the station serves, gets a one-line STATUS=
that follows what happens, WATCHDOG=1 keeps coming while the loop is healthy, STOPPING=1 then exit 0 on
SIGTERM; SIGHUP applies the safe part of an edited configuration and names what needs a restart; SIGUSR1
puts every thread's stack in the log; a refused tenant secret stops the daemon with a reason, not READY;
a rotated client secret or certificate is picked up by SIGHUP (`systemctl reload`) without a restart.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from daemon_harness import kill, queue_people, start_daemon, write_config

from station_emulator.entra import EntraEmulator
from station_emulator.entra.certs import make_client_certificate


@pytest.fixture(scope="module")
def emu() -> Iterator[EntraEmulator]:
    with EntraEmulator(users=12, seed=7) as e:
        yield e


def test_notify_protocol_status_and_clean_stop_on_sigterm(emu: EntraEmulator, tmp_path: Path) -> None:
    config = write_config(emu, tmp_path)
    queue_people(tmp_path, emu, 3)
    daemon = start_daemon(config)
    try:
        ready = daemon.notify.wait_for("READY", "1")
        assert ready["STATUS"] == "idle · 3 queued · 0 enrolled today"
        assert int(ready["MAINPID"]) == daemon.proc.pid
        daemon.notify.wait_for("WATCHDOG", "1", timeout=5)
        assert daemon.control_path.exists()
        assert oct(daemon.control_path.stat().st_mode & 0o777) == oct(0o660)

        daemon.client().command("pause")
        daemon.notify.wait_for("STATUS", contains="paused · 3 queued", timeout=5)
        daemon.client().command("resume")
        daemon.notify.wait_for("STATUS", "idle · 3 queued · 0 enrolled today", timeout=5)

        watchdogs_before = sum(1 for m in daemon.notify.messages if "WATCHDOG" in m)
        daemon.notify.wait_for("WATCHDOG", timeout=3)
        assert watchdogs_before >= 2, "WATCHDOG=1 keeps coming while the loop is healthy"

        assert daemon.stop() == 0
        daemon.notify.wait_for("STOPPING", "1", timeout=1)
        log = daemon.log()
        assert "station stopped" in log
        assert not daemon.control_path.exists(), "the control socket is removed on stop"
    finally:
        kill(daemon)


def test_sighup_reloads_what_is_safe_and_sigusr1_logs_thread_stacks(emu: EntraEmulator, tmp_path: Path) -> None:
    config = write_config(emu, tmp_path)
    daemon = start_daemon(config)
    try:
        text = config.read_text()
        text = text.replace("pin_length = 8", "pin_length = 10").replace('name = "Enrolment station"',
                                                                        'name = "Desk 7"')
        config.write_text(text)
        daemon.signal(signal.SIGHUP)
        log = daemon.wait_log("reload: enrolment.pin_length = 10")
        daemon.wait_log("station.name need a restart")
        assert daemon.client().status()["state"] == "idle", "still serving after the reload"

        config.write_text(text.replace("pin_length = 10", "pin_length = 'ten'"))
        daemon.signal(signal.SIGHUP)
        log = daemon.wait_log("reload refused, keeping the running configuration")
        assert "enrolment.pin_length" in log

        daemon.signal(signal.SIGUSR1)
        log = daemon.wait_log("thread MainThread")
        assert "thread control-accept" in log and "serve" in log
        assert daemon.stop() == 0
    finally:
        kill(daemon)


def test_a_refused_tenant_secret_stops_the_daemon_before_ready(emu: EntraEmulator, tmp_path: Path) -> None:
    config = write_config(emu, tmp_path)
    (tmp_path / "client-secret").write_text("not-the-secret")
    daemon = start_daemon(config, wait_ready=False)
    try:
        assert daemon.proc.wait(30) == 1
        log = daemon.log()
        assert "the authority refused a token" in log
        assert "→" in log, "the refusal comes with a remedy"
        assert not any("READY" in m for m in daemon.notify.messages)
        assert not daemon.control_path.exists()
    finally:
        kill(daemon)


def _token_requests(emu: EntraEmulator, since: int) -> list[int]:
    return [r.status for r in emu.request_log[since:] if r.method == "POST" and r.path.endswith("/token")]


def _wait_token_request(emu: EntraEmulator, since: int, status: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while status not in _token_requests(emu, since):
        assert time.monotonic() < deadline, f"no token request answered {status}: {_token_requests(emu, since)}"
        time.sleep(0.05)


def _write_private(path: Path, data: str | bytes) -> None:
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    os.chmod(path, 0o600)


def _check_rotation(emu: EntraEmulator, tmp_path: Path, env: dict[str, str], rotate: Callable[[], None],
                    install: Callable[[], None], secret_text: str) -> None:
    """Rotate the credential in the tenant (old one refused: 401), install the new files, SIGHUP: next token OK."""
    config = write_config(emu, tmp_path)
    daemon = start_daemon(config, env=env)
    try:
        rotate()
        emu.faults.revoke_tokens()
        queue_people(tmp_path, emu, 2)
        since = len(emu.request_log)
        daemon.client().command("pause")
        daemon.client().command("resume")  # prefetches options for the two people: a Graph call
        _wait_token_request(emu, since, 401)
        assert 200 not in _token_requests(emu, since), "the old credential no longer gets a token"

        install()
        since = len(emu.request_log)
        daemon.signal(signal.SIGHUP)
        log = daemon.wait_log("reload: client credential re-read; a token was issued with it")
        _wait_token_request(emu, since, 200)
        assert secret_text not in log, "the secret never reaches the log"
        daemon.client().command("pause")
        daemon.client().command("resume")
        deadline = time.monotonic() + 20
        while daemon.client().status()["entra"].get("token_ok") is not True or \
                not any(r.status == 200 and "/creationOptions" in r.path for r in emu.request_log[since:]):
            assert time.monotonic() < deadline, emu.request_log[since:]
            time.sleep(0.1)
        assert daemon.stop() == 0
    finally:
        kill(daemon)


def test_sighup_picks_up_a_rotated_client_secret(tmp_path: Path) -> None:
    new_secret = "rotated-" + "x" * 32
    with EntraEmulator(users=4, seed=11) as emu:
        def rotate() -> None:
            emu.tenant.app.client_secret = new_secret

        _check_rotation(emu, tmp_path, {}, rotate, lambda: _write_private(tmp_path / "client-secret", new_secret),
                        new_secret)


def test_sighup_picks_up_a_rotated_certificate(tmp_path: Path) -> None:
    new = make_client_certificate("rotated")
    with EntraEmulator(users=4, seed=13) as emu:
        cert, key = tmp_path / "app.crt", tmp_path / "app.key"
        cert.write_bytes(Path(emu.info.client_certificate_file).read_bytes())
        _write_private(key, Path(emu.info.client_key_file).read_bytes())
        env = {"STATION_TENANT_CERTIFICATE_FILE": str(cert), "STATION_TENANT_PRIVATE_KEY_FILE": str(key)}

        def rotate() -> None:
            emu.tenant.app.certificates = [x509.load_pem_x509_certificate(new.cert_pem)]

        def install() -> None:
            cert.write_bytes(new.cert_pem)
            _write_private(key, new.key_pem)

        _check_rotation(emu, tmp_path, env, rotate, install, new.key_pem.decode().splitlines()[1])
