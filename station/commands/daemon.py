"""`station run`, `station status [--json]` and `station install-system [--apply]`."""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from station.commands.common import config_from_args, print_json
from station.config_file import runtime_dir
from station.control_client import ControlClient
from station.control_protocol import socket_path
from station.enroll.steps import step_word
from station.errors import StationError
from station.i18n import _, speak
from station.installation import hidden_from_service, installation_dirs, system_file, writable_by_others
from station.rollout import queue_line, rollout_lines
from station.text import visible
from station.unresolved_words import REMEDY, describe

UNIT_BINARY = "/usr/bin/station"


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

    p = sub.add_parser("install-system", help="install the service user, units, udev rule and a configuration",
                       description="Print (or with --apply, perform) what installs Station as a system service: "
                                   "the station user (sysusers), directories (tmpfiles), station.service and "
                                   "station-kiosk.service, the udev rule for FIDO keys and a configuration "
                                   "skeleton in /etc/station (an existing configuration is kept), from the "
                                   "files this installation carries. It refuses an installation that a user "
                                   "other than root can change, or one the service's sandbox hides (under /home, "
                                   "/root, /tmp): use the .deb, or a virtualenv made as root under /opt.")
    p.add_argument("--apply", action="store_true", help="perform the steps (needs root)")
    p.add_argument("--root", metavar="DIR", type=Path, default=Path("/"),
                   help="install under DIR instead of / (a staging tree; commands are then only printed)")
    p.set_defaults(func=cmd_install_system)


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


# -- install-system -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Install:
    source: str
    target: str
    mode: int
    keep_existing: bool = False


def _install_plan() -> list[Install]:
    return [
        Install("station.sysusers.conf", "/usr/lib/sysusers.d/station.conf", 0o644),
        Install("station.tmpfiles.conf", "/usr/lib/tmpfiles.d/station.conf", 0o644),
        Install("station.service", "/etc/systemd/system/station.service", 0o644),
        Install("station-kiosk.service", "/etc/systemd/system/station-kiosk.service", 0o644),
        Install("70-station-fido.rules", "/etc/udev/rules.d/70-station-fido.rules", 0o644),
    ]


def _commands() -> list[list[str]]:
    return [
        ["systemd-sysusers", "station.conf"],
        ["systemd-tmpfiles", "--create", "station.conf"],
        ["udevadm", "control", "--reload"],
        ["udevadm", "trigger", "--subsystem-match=hidraw"],
        ["systemctl", "daemon-reload"],
    ]


def station_binary() -> str:
    """The ``station`` console script of this installation (what the units' ExecStart= runs): /usr/bin/station
    when that leads to it (the .deb's link into /opt/station), else the script itself."""
    beside = Path(sys.executable).parent / "station"
    if beside.exists():
        return UNIT_BINARY if Path(UNIT_BINARY).resolve() == beside.resolve() else str(beside)
    return shutil.which("station") or UNIT_BINARY


def config_skeleton() -> str:
    from station.config_template import render_config

    return render_config()


def cmd_install_system(args: argparse.Namespace) -> int:
    root: Path = args.root
    staging = root.resolve() != Path("/")
    missing = [i.source for i in _install_plan() if not system_file(i.source).is_file()]
    if missing:
        raise StationError(f"this installation of Station lacks {', '.join(missing)} in station/system/",
                           remedy="Reinstall Station from its wheel or .deb.")
    _refuse_unsafe_installation(check_hidden=not staging)
    if args.apply and not staging and os.geteuid() != 0:
        raise StationError("install-system --apply needs root", remedy="Run it with sudo.")
    binary = station_binary()
    verb = "install" if args.apply else "would install"
    for item in _install_plan():
        text = system_file(item.source).read_text(encoding="utf-8").replace(UNIT_BINARY, binary)
        print(f"{verb} {item.source} → {item.target}")
        if args.apply:
            _write(root / item.target.lstrip("/"), text, item.mode)
    config = root / "etc/station/station.toml"
    if config.exists():
        print(f"keep existing {config}")
    else:
        print(f"{verb} a configuration skeleton → /etc/station/station.toml (fill in [tenant] and the escrow key)")
        if args.apply:
            _write(config, config_skeleton(), 0o640)
    for command in _commands():
        line = shlex.join(command)
        if args.apply and not staging:
            print(f"run {line}")
            subprocess.run(command, check=True)
        else:
            print(f"{'then run' if args.apply else 'would run'} {line}")
    print("next: put the client secret in /etc/station/client-secret (mode 0600), the escrow public key in "
          "/etc/station/escrow-public.pem, fill in /etc/station/station.toml, then "
          "'systemctl enable --now station' (and station-kiosk for a screen on tty1)")
    return 0


def _refuse_unsafe_installation(*, check_hidden: bool) -> None:
    dirs = installation_dirs()
    writable = writable_by_others(dirs)
    if writable:
        raise StationError(
            f"a user other than root can change this installation of Station: {', '.join(map(str, writable))}",
            remedy="The service would run that code with the tenant secret. Install the .deb, or make a "
                   "virtualenv as root in a root-owned directory (sudo python3 -m venv /opt/station; sudo "
                   "/opt/station/bin/pip install station-*.whl) and run its station install-system.")
    hidden = hidden_from_service(dirs) if check_hidden else []
    if hidden:
        raise StationError(
            f"station.service cannot see this installation of Station: {', '.join(map(str, hidden))} is hidden by "
            "its ProtectHome=/PrivateTmp= sandbox",
            remedy="Install the .deb, or make a root-owned virtualenv outside /home, /root and /tmp (sudo python3 "
                   "-m venv /opt/station) and run its station install-system.")


def _write(path: Path, text: str, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{int(time.time())}")
    tmp.write_text(text, encoding="utf-8")
    os.chmod(tmp, mode)
    os.replace(tmp, path)
