"""Benchmark 4 — idle footprint: ``station run`` and ``station kiosk`` with USB and NFC watchers and no keys.

The daemon runs as its own process against the Entra emulator (another process) and a SQLite store,
with its default watchers: USB (pyudev on the netlink uevent socket) and NFC (PC/SC through a pcscd of
the benchmark's own with the vsmartcard vpcd reader and no card — ``tests/realstack.py``'s ``Pcscd``).
CPU % is the process's utime + stime from ``/proc/PID/stat`` over each window; RSS is ``VmRSS`` at the end.
The kiosk runs the daemon and the Textual dashboard in one process, on a pseudo-terminal (120×40).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

from bench.machine import station_command
from bench.report import Section
from bench.rig import EntraProcess
from bench.size import Size, pick
from bench.stats import median, spread

TITLE = "4. Idle footprint of station run and station kiosk"
ROOT = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")
RUN_CPU_TARGET, RUN_RSS_TARGET_MB, KIOSK_CPU_TARGET = 0.5, 60.0, 0.5
SETTLE_SECONDS = 5.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def sample(proc: subprocess.Popen[bytes], windows: int, seconds: float) -> tuple[list[float], float]:
    """CPU % per window, and RSS (MB) at the end."""
    out = []
    for _ in range(windows):
        c0, t0 = cpu_seconds(proc.pid), time.monotonic()
        time.sleep(seconds)
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode} while idle")
        out.append((cpu_seconds(proc.pid) - c0) / (time.monotonic() - t0) * 100)
    return out, rss_mb(proc.pid)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def start_pcscd(workdir: Path) -> object:
    sys.path.insert(0, str(ROOT / "tests"))
    from realstack import Pcscd, free_port_pair, pcscd_missing

    missing = pcscd_missing()
    if missing:
        raise RuntimeError(f"cannot run pcscd for the NFC watcher: {missing}")
    daemon = Pcscd(workdir / "pcscd", free_port_pair())
    os.environ["PCSCLITE_CSOCK_NAME"] = str(daemon.socket_path)
    daemon.start()
    return daemon


def configure(workdir: Path, info_path: Path) -> Path:
    config = workdir / "station.toml"
    subprocess.run([*station_command(), "config", "init", "--emulator", str(info_path), "--config", str(config)],
                   check=True, stdout=subprocess.DEVNULL)
    return config


def kiosk(env: dict[str, str], config: Path) -> tuple[subprocess.Popen[bytes], int]:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen([*station_command(), "kiosk", "--config", str(config)], stdin=slave, stdout=slave,
                            stderr=slave, env={**env, "TERM": "xterm-256color"}, start_new_session=True)
    os.close(slave)

    def drain() -> None:
        with contextlib.suppress(OSError):
            while os.read(master, 65536):
                pass

    threading.Thread(target=drain, daemon=True).start()
    return proc, master


def run(workdir: Path, size: Size) -> Section:
    windows, seconds = pick(size, smoke=(1, 2.0), quick=(1, 20.0), full=(3, 20.0))
    section = Section("idle", TITLE, "python -m bench.run idle")
    pcscd = start_pcscd(workdir)
    try:
        with EntraProcess(workdir, users=50, latency_ms=0) as entra:
            config = configure(workdir, entra.info_path)
            env = {**os.environ, "PCSCLITE_CSOCK_NAME": str(pcscd.socket_path),  # type: ignore[attr-defined]
                   "STATION_STATE_DIR": str(workdir / "state"), "STATION_RUNTIME_DIR": str(workdir / "run")}
            daemon = subprocess.Popen([*station_command(), "run", "--config", str(config)], env=env,
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=(workdir / "run.log").open("wb"))
            try:
                time.sleep(SETTLE_SECONDS)
                run_cpu, run_rss = sample(daemon, windows, seconds)
            finally:
                stop(daemon)
            proc, master = kiosk(env, config)
            try:
                time.sleep(SETTLE_SECONDS)
                kiosk_cpu, kiosk_rss = sample(proc, windows, seconds)
            finally:
                stop(proc)
                os.close(master)
    finally:
        pcscd.stop()  # type: ignore[attr-defined]

    def verdict(ok: bool) -> str:
        return "meets" if ok else "misses"

    section.add(
        f"After {SETTLE_SECONDS:.0f} s to settle, {windows} window(s) of {seconds:.0f} s "
        f"({windows * seconds:.0f} s in all) per process, no key anywhere. " + (__doc__ or "").split("\n\n")[1]
        .replace("\n", " "),
        "",
    )
    section.table(["process", "CPU % (median of windows)", "spread", "target", "RSS at the end", "target"], [
        ["`station run`", f"{median(run_cpu):.2f} %", spread(run_cpu),
         f"< {RUN_CPU_TARGET} % — {verdict(median(run_cpu) < RUN_CPU_TARGET)}", f"{run_rss:.0f} MB",
         f"< {RUN_RSS_TARGET_MB:.0f} MB — {verdict(run_rss < RUN_RSS_TARGET_MB)}"],
        ["`station kiosk`", f"{median(kiosk_cpu):.2f} %", spread(kiosk_cpu),
         f"< {KIOSK_CPU_TARGET} % — {verdict(median(kiosk_cpu) < KIOSK_CPU_TARGET)}", f"{kiosk_rss:.0f} MB", ""],
    ])
    return section
