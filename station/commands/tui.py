"""`station tui` (the dashboard attached to a running daemon) and `station kiosk` (daemon and dashboard in one)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from station.commands.common import config_from_args
from station.i18n import speak

if TYPE_CHECKING:
    from station.daemon import Daemon
    from station.tui.app import StationApp

log = logging.getLogger(__name__)

STOP_WAIT_SECONDS = 10.0
# After the dashboard fails, it comes back after these pauses (the last repeats); enrolment never stops.
RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("tui", help="the dashboard, attached to the running daemon",
                       description="Show the terminal dashboard of the station daemon that is running, through "
                                   "its control socket. Pause, retry and skip work when this user may control "
                                   "the daemon (root, the daemon's user, the station group); otherwise, or with "
                                   "--read-only, it only watches.")
    p.add_argument("--socket", metavar="PATH", type=Path,
                   help="control socket (default: control.sock in station.runtime_dir)")
    p.add_argument("--read-only", action="store_true", help="watch only; never send a command")
    p.set_defaults(func=cmd_tui)

    p = sub.add_parser("kiosk", help="run the station and its dashboard in this terminal",
                       description="Run the enrolment daemon in this process with the dashboard in this terminal. "
                                   "Quitting the dashboard stops the station (enrolments past the touch finish "
                                   "first). Should the dashboard fail, the station keeps enrolling and the "
                                   "dashboard starts again (after 1 s, then up to 30 s). The log goes to "
                                   "kiosk.log in station.state_dir; warnings also appear in the dashboard's "
                                   "event log.")
    p.set_defaults(func=cmd_kiosk)


def cmd_tui(args: argparse.Namespace) -> int:
    from station.control import socket_path
    from station.tui.app import run_dashboard
    from station.tui.source import ControlSource

    path = args.socket or socket_path(config_from_args(args).station.runtime_dir)
    source = ControlSource(path, read_only=True if args.read_only else None)
    status = source.snapshot()
    speak(str(status.get("station", {}).get("language") or "en"))  # the station's language, configuration or not
    name = str(status.get("station", {}).get("name") or "Station")
    return run_dashboard(source, title=name, mode="monitor")


def cmd_kiosk(args: argparse.Namespace) -> int:
    from station.daemon import Daemon
    from station.hardening import disable_core_dumps
    from station.tui.log_capture import file_handler, terminal_logs_replaced

    disable_core_dumps()
    cfg = config_from_args(args)
    log_file = cfg.station.state_dir / "kiosk.log"
    print(f"station kiosk: starting; the log is in {log_file}", file=sys.stderr)
    with terminal_logs_replaced(file_handler(log_file)):
        daemon = Daemon(cfg, keep_log_level=bool(args.verbose))
        daemon.start()
        try:
            return _run_kiosk(daemon, cfg.station.name)
        finally:
            daemon.shutdown()


def _run_kiosk(daemon: Daemon, title: str, *, make_app: Callable[..., StationApp] | None = None,
               headless: bool = False) -> int:
    """The dashboard in the foreground, the daemon's loop behind it; SIGTERM or quitting ends both. A dashboard
    that fails is started again (``RESTART_DELAYS``) while the daemon goes on enrolling. ``make_app`` and
    ``headless`` serve tests."""
    from station.daemon import install_signal_handlers
    from station.tui.app import create_app, run_app
    from station.tui.source import EngineSource

    engine = daemon.engine
    assert engine is not None
    build = make_app or create_app
    current: list[StationApp] = []
    stopped = threading.Event()

    def serve() -> None:
        try:
            daemon.serve()
        finally:
            stopped.set()
            for app in current:
                if app.is_running:
                    app.call_from_thread(app.exit, 0)

    def dashboard() -> StationApp:
        source = EngineSource(engine, daemon.bus, daemon.status, fleet_fn=daemon.fleet, keys=daemon.key_service())
        app = build(source, title=title, mode="kiosk", keep_running=lambda: not stopped.is_set())
        current[:] = [app]
        return app

    previous = install_signal_handlers(daemon)
    loop = threading.Thread(target=serve, name="daemon-loop", daemon=True)
    loop.start()
    try:
        return _dashboard_until_quit(dashboard, stopped, lambda app: run_app(app, headless=headless))
    finally:
        daemon.request_stop()
        loop.join(STOP_WAIT_SECONDS)
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _dashboard_until_quit(dashboard: Callable[[], StationApp], stopped: threading.Event,
                          run: Callable[[StationApp], int]) -> int:
    """Run dashboards one after the other until one ends without failing or the daemon stops."""
    failures = 0
    while True:
        app = dashboard()
        code = run(app)
        if app.failure is None or stopped.is_set():
            return code
        delay = RESTART_DELAYS[min(failures, len(RESTART_DELAYS) - 1)]
        failures += 1
        log.error("the dashboard failed (%s); the station goes on enrolling and the dashboard starts again in "
                  "%g s", type(app.failure).__name__, delay)
        if stopped.wait(delay):
            return code
