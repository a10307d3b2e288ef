"""Helpers for tests that run against real system components.

``require(condition, why)`` fails the test under CI=true and skips it elsewhere, so a missing pcscd,
vpcd, umockdev or PostgreSQL can never turn a CI run green by skipping.

``pcscd`` is a session fixture: a test-owned pcscd with the vsmartcard vpcd driver on free ports.
pcscd 1.9.9 hard-codes /run/pcscd (socket and pid file), so it runs in a private mount namespace
where a private directory is bind-mounted over /run/pcscd; the test process reaches it through
``PCSCLITE_CSOCK_NAME``. libpcsclite reads that variable once per process, at the first PC/SC call,
so every test in a session shares one socket path — :meth:`Pcscd.restart` keeps it.
Use it from a test module with ``from realstack import pcscd``.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

PR_SET_PDEATHSIG = 1
VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
START_TIMEOUT = 10.0


def require(condition: bool, why: str) -> None:
    """Skip the test when ``condition`` is false — or fail it under CI=true, where everything must run."""
    if condition:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"real-stack dependency missing (CI=true, so this fails instead of skipping): {why}",
                    pytrace=False)
    pytest.skip(why)


def free_port_pair() -> int:
    """A free TCP port ``p`` on 127.0.0.1 with ``p + 1`` free too (vpcd listens on one port per slot)."""
    for _ in range(50):
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            port = a.getsockname()[1]
            if port >= 65535:
                continue
            with socket.socket() as b:
                try:
                    b.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
            return port
    raise RuntimeError("no pair of free ports on 127.0.0.1")


_LAUNCHER = """#!/bin/sh
set -e
mkdir -p /run/pcscd
mount --bind "$1" /run/pcscd
exec pcscd --foreground --config "$2" {debug}
"""


class Pcscd:
    """A pcscd of the test's own, with one vpcd reader ("Virtual PCD 00 00" and "00 01") on ``port``."""

    def __init__(self, root: Path, port: int, *, debug: bool = False) -> None:
        self.root = root
        self.port = port
        self.run_dir = root / "run"
        self.conf_dir = root / "reader.conf.d"
        self.log_path = root / "pcscd.log"
        self.socket_path = self.run_dir / "pcscd.comm"
        self._debug = debug
        self._proc: subprocess.Popen[bytes] | None = None

    def reader(self, slot: int = 0) -> str:
        return f"Virtual PCD 00 {slot:02d}"

    def vpcd_port(self, slot: int = 0) -> int:
        return self.port + slot

    def wait_for_card(self, slot: int = 0, *, present: bool = True, timeout: float = 5.0) -> None:
        """Block until pcscd sees a card in ``slot`` (or sees it gone); AssertionError on timeout."""
        from smartcard import scard

        rv, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        assert rv == scard.SCARD_S_SUCCESS, scard.SCardGetErrorMessage(rv)
        try:
            state = scard.SCARD_STATE_UNAWARE
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                rv, changes = scard.SCardGetStatusChange(context, 100, [(self.reader(slot), state)])
                if rv == scard.SCARD_S_SUCCESS:
                    state = changes[0][1] & ~scard.SCARD_STATE_CHANGED
                    if bool(state & scard.SCARD_STATE_PRESENT) == present:
                        return
            raise AssertionError(f"card {'not inserted' if present else 'not removed'} in {self.reader(slot)}")
        finally:
            scard.SCardReleaseContext(context)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        if self.running:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        (self.conf_dir / "vpcd").write_text(
            'FRIENDLYNAME "Virtual PCD"\n'
            f"DEVICENAME   /dev/null:0x{self.port:04X}\n"
            f"LIBPATH      {VPCD_DRIVER}\n"
            f"CHANNELID    0x{self.port:04X}\n"
        )
        launcher = self.root / "launch-pcscd.sh"
        launcher.write_text(_LAUNCHER.format(debug="--debug" if self._debug else ""))
        launcher.chmod(0o755)
        log = self.log_path.open("ab")
        self._proc = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", str(launcher), str(self.run_dir), str(self.conf_dir)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent,
        )
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"pcscd exited with {self._proc.returncode}; see {self.log_path}")
            if self._answers() and self.reader() in _list_readers():
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"pcscd did not open {self.socket_path} within {START_TIMEOUT} s")

    def _answers(self) -> bool:
        with socket.socket(socket.AF_UNIX) as s:
            try:
                s.connect(str(self.socket_path))
            except OSError:
                return False
            return True

    def stop(self) -> None:
        """Terminate pcscd; every card link and PC/SC handle to it breaks, as on a real stop."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()

    def restart(self) -> None:
        self.stop()
        self.start()


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGTERM it if the test process dies, so no pcscd outlives a killed run.

    unshare and the launcher exec into pcscd, so the setting stays with the pcscd process. Linux ties
    it to the thread that started pcscd: call :meth:`Pcscd.start` from the test's main thread.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _list_readers() -> list[str]:
    from smartcard.scard import (
        SCARD_S_SUCCESS,
        SCARD_SCOPE_USER,
        SCardEstablishContext,
        SCardListReaders,
        SCardReleaseContext,
    )

    rv, context = SCardEstablishContext(SCARD_SCOPE_USER)
    if rv != SCARD_S_SUCCESS:
        return []
    try:
        rv, readers = SCardListReaders(context, [])
        return list(readers) if rv == SCARD_S_SUCCESS else []
    finally:
        SCardReleaseContext(context)


SESSION_PCSCD_ENV = "STATION_TEST_PCSCD_ROOT"


def claim_pcsc_socket() -> None:
    """Point this test process's PC/SC client at the session pcscd's socket before anything touches PC/SC.

    Called from conftest at start-up: libpcsclite reads PCSCLITE_CSOCK_NAME once per process, so a test
    that merely starts an NFC watcher early would otherwise tie the whole run to the system pcscd.
    """
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="station-pcscd-"))
    os.environ[SESSION_PCSCD_ENV] = str(root)
    os.environ["PCSCLITE_CSOCK_NAME"] = str(root / "run" / "pcscd.comm")


def release_pcsc_socket() -> None:
    root = os.environ.pop(SESSION_PCSCD_ENV, None)
    if root:
        shutil.rmtree(root, ignore_errors=True)


def session_pcscd_root() -> Path:
    root = os.environ.get(SESSION_PCSCD_ENV)
    if root is None:
        claim_pcsc_socket()
        root = os.environ[SESSION_PCSCD_ENV]
    return Path(root)


def pcscd_missing() -> str | None:
    """Why a test-owned pcscd with vpcd cannot run here, or None when it can."""
    for tool in ("pcscd", "unshare", "mount"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if not VPCD_DRIVER.exists():
        return f"vsmartcard-vpcd is not installed ({VPCD_DRIVER} missing)"
    if os.geteuid() != 0:
        return "a private mount namespace for pcscd needs root"
    try:
        import smartcard.scard  # noqa: F401
    except ImportError as e:
        return f"pyscard is not importable: {e}"
    return None


@pytest.fixture(scope="session")
def pcscd() -> Iterator[Pcscd]:
    """The session's own pcscd with a vpcd reader; it is running when a test starts using it."""
    missing = pcscd_missing()
    require(missing is None, missing or "")
    daemon = Pcscd(session_pcscd_root(), free_port_pair())
    previous = os.environ.get("PCSCLITE_CSOCK_NAME")
    os.environ["PCSCLITE_CSOCK_NAME"] = str(daemon.socket_path)
    try:
        daemon.start()
    except RuntimeError as e:
        require(False, f"pcscd did not start: {e}")
    try:
        yield daemon
    finally:
        daemon.stop()
        if previous is None:
            os.environ.pop("PCSCLITE_CSOCK_NAME", None)
        else:
            os.environ["PCSCLITE_CSOCK_NAME"] = previous


@pytest.fixture
def running_pcscd(pcscd: Pcscd) -> Pcscd:
    """The session pcscd, started again if an earlier test stopped it."""
    if not pcscd.running:
        pcscd.start()
    return pcscd
