"""`station run` and `station status [--json]`."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from station.commands.common import config_from_args, print_json
from station.config_file import runtime_dir
from station.control_client import ControlClient
from station.control_protocol import socket_path
from station.enroll.steps import step_word
from station.i18n import _, speak
from station.rollout import queue_line, rollout_lines
from station.text import visible
from station.unresolved_words import REMEDY, describe


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("run", help="run the station daemon (what station.service starts)",
                       description="Run the enrolment daemon in the foreground: watch USB and NFC for keys, "
                                   "enrol them, serve the control socket. Speaks the systemd notify protocol "
                                   "when $NOTIFY_SOCKET is set. SIGTERM stops it cleanly, SIGHUP reloads the "
                                   "configuration and re-reads the client secret or "
                                   "certificate files, SIGUSR1 logs every thread's stack.")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("status", help="what the running daemon is doing",
                       description="Ask the running daemon (over its control socket) for its status. Reads "
                                   "only station.runtime_dir from the configuration, to find the socket.")
    p.add_argument("--json", action="store_true", help="the full status snapshot as JSON")
    p.add_argument("--socket", metavar="PATH", type=Path,
                   help="control socket (default: control.sock in station.runtime_dir)")
    p.set_defaults(func=cmd_status)


def cmd_run(args: argparse.Namespace) -> int:
    from station.daemon import Daemon
    from station.hardening import disable_core_dumps

    disable_core_dumps()
    cfg = config_from_args(args)
    return Daemon(cfg, keep_log_level=bool(args.verbose)).run()


# -- status ---------------------------------------------------------------------------------------
def cmd_status(args: argparse.Namespace) -> int:
    path = args.socket or socket_path(runtime_dir(args.config))
    status = ControlClient(path).status()
    if args.json:
        print_json(status)
    else:
        speak(str(status.get("station", {}).get("language") or "en"))  # as the daemon's summary line speaks
        print(format_status(status))
    return 0


def format_status(status: dict[str, Any]) -> str:
    """`station status` for a person to read, in the language ``speak`` set (the station's)."""
    st = status.get("station", {})
    lines = [_("Station {id} ({name}) · version {version} · pid {pid}").format(
        id=st.get("id", "?"), name=st.get("name", ""), version=st.get("version", "?"), pid=st.get("pid", "?")),
        str(status.get("summary", ""))]
    q = status.get("queue", {})
    lines.append(queue_line(q))
    pace = status.get("pace") or {}
    if pace.get("window_seconds"):
        lines += rollout_lines(q, recent_done=int(pace.get("enrolled", 0)), window=float(pace["window_seconds"]),
                               at=time.time())
    slots = status.get("slots", [])
    if slots:
        lines.append(_("keys:"))
        for s in slots:
            who = s.get("upn") or "—"
            step = visible(step_word(s.get("step", "")))
            lines.append(f"  {visible(s.get('slot', '?')):<20} {step:<16} {visible(who)}  "
                         f"{visible(s.get('model', ''))}".rstrip())
    next_up = status.get("next_up", [])
    if next_up:
        lines.append(_("next: {people}").format(
            people=", ".join(f"{visible(p['display_name'])} <{visible(p['upn'])}>" for p in next_up)))
    entra = status.get("entra", {})
    token = {True: _("token OK"), False: _("token FAILING"), None: _("token not tried")}[entra.get("token_ok")]
    entra_parts = [token]
    if entra.get("last_latency_ms") is not None:
        entra_parts.append(_("last call {ms} ms").format(ms=f"{entra['last_latency_ms']:.0f}"))
    if entra.get("throttled"):
        entra_parts.append(_("throttled"))
    if entra.get("last_error"):
        entra_parts.append(_("last error: {error}").format(error=entra["last_error"]))
    lines.append("Entra ID: " + " · ".join(entra_parts))
    waiting = status.get("unresolved") or []
    if waiting:
        lines.append("unresolved (Entra ID could not tell the outcome; the person stays claimed):")
        lines += [f"  {describe(item)}" for item in waiting]
        lines.append(f"  → {REMEDY}")
    lines += [f"{w}" for w in status.get("watchers", [])]
    return "\n".join(visible(line) for line in lines if line)
