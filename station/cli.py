"""`station …` command line: builds the sub-commands and turns every StationError into a message + exit code."""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from station import __version__
from station.errors import ConfigError, StationError
from station.i18n import speak, spoken
from station.logsetup import setup_logging
from station.text import visible_lines

log = logging.getLogger(__name__)

# Every top-level command: the module whose ``register(subparsers)`` defines it (its parsers set
# ``func(args) -> int``) and the one line `station --help` shows for it. `station COMMAND …` imports only
# COMMAND's module; `station --help`, no command or an unknown one import none (tests/unit/test_cli.py keeps
# these lines equal to the modules' own).
COMMANDS: dict[str, tuple[str, str]] = {
    "queue": ("station.commands.queue", "manage the queue of people waiting for a key"),
    "config": ("station.commands.config", "check, show or create the configuration"),
    "import": ("station.commands.entra", "queue people from Entra ID (a group, or named users)"),
    "sync": ("station.commands.entra", "apply Entra ID changes to the queue"),
    "doctor": ("station.commands.entra", "check the tenant: token, permissions, FIDO2 policy, clock"),
    "emulate": ("station.commands.emulate", "run an emulator (virtual security key, …)"),
    "pins": ("station.commands.pins", "escrow keys and PIN hand-out"),
    "run": ("station.commands.daemon", "run the station daemon (what station.service starts)"),
    "status": ("station.commands.daemon", "what the running daemon is doing"),
    "install-system": ("station.commands.install",
                       "install the service user, units, udev rule and a configuration"),
    "demo": ("station.commands.demo", "the whole station against emulated keys and an emulated Entra ID tenant"),
    "feedback": ("station.commands.feedback", "the station's LEDs and tones"),
    "fleet": ("station.commands.fleet", "show every station sharing this store"),
    "mds": ("station.commands.mds", "FIDO metadata (MDS3): load a BLOB, show a key model"),
    "tui": ("station.commands.tui", "the dashboard, attached to the running daemon"),
    "kiosk": ("station.commands.tui", "run the station and its dashboard in this terminal"),
    "keys": ("station.commands.keys", "the inventory of enrolled keys, and revoking or replacing them"),
    "report": ("station.commands.report", "write the rollout report (HTML, JSON or CSV)"),
    "handout": ("station.commands.handout",
                "hand keys out for the person to register themselves (Temporary Access Pass)"),
}
COMMAND_HOME = {name: module for name, (module, _) in COMMANDS.items()}
COMMAND_MODULES = list(dict.fromkeys(COMMAND_HOME.values()))


def _modules_for(argv: Sequence[str]) -> list[str]:
    """The command module to load for this command line: its command's module, or none (help, no command)."""
    words = [a for a in argv if not a.startswith("-")]
    takes_value = {"--config", "--store"}
    for i, arg in enumerate(argv):
        if arg in takes_value and i + 1 < len(argv):
            words = [w for w in words if w is not argv[i + 1]]
    if words and words[0] in COMMAND_HOME:
        return [COMMAND_HOME[words[0]]]
    return []


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The whole command tree (``argv`` None), or the tree ``argv`` needs: its command's module only, every
    other command a placeholder carrying its help line (enough for `station --help` and for errors)."""
    parser = argparse.ArgumentParser(
        prog="station",
        description="Station: enrol FIDO2 security keys for Microsoft Entra ID users.",
    )
    parser.add_argument("--version", action="version", version=f"station {__version__}")
    add_common_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    modules = COMMAND_MODULES if argv is None else _modules_for(argv)
    for name in modules:
        importlib.import_module(name).register(sub)
    for name, (module, help_line) in COMMANDS.items():
        if module not in modules:
            sub.add_parser(name, help=help_line)
    for leaf in _leaf_parsers(parser):
        add_common_options(leaf)
    return parser


def _leaf_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every sub-command parser without sub-commands of its own, so common options work after the command."""
    found: list[argparse.ArgumentParser] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                found.extend(_leaf_parsers(child) or [child])
    return found


def add_common_options(parser: argparse.ArgumentParser) -> None:
    """Options every command accepts (before or after the sub-command name); a command may define its own."""
    options: list[tuple[str, dict[str, Any]]] = [
        ("--config", dict(metavar="PATH", help="configuration file (default: $STATION_CONFIG or "
                                               "/etc/station/station.toml)")),
        ("--store", dict(metavar="URL", help="store URL, overriding the configuration "
                                             "(sqlite:////ABSOLUTE/PATH — four slashes — or "
                                             "postgresql://…)")),
        ("--log-json", dict(action="store_true", help="log as JSON lines on stderr")),
        ("--verbose", dict(action="store_true", help="debug logging")),
    ]
    for flag, kwargs in options:
        if flag not in parser._option_string_actions:
            names = [flag, "-v"] if flag == "--verbose" and "-v" not in parser._option_string_actions else [flag]
            parser.add_argument(*names, default=argparse.SUPPRESS, **kwargs)


# A file a command writes cannot be written: the disk is full or read-only (not a bug: one line, no traceback).
NO_ROOM = (errno.ENOSPC, errno.EDQUOT, errno.EROFS)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    for name, default in (("config", None), ("store", None), ("log_json", False), ("verbose", False)):
        if not hasattr(args, name):
            setattr(args, name, default)
    setup_logging(json_lines=args.log_json, level=logging.DEBUG if args.verbose else logging.INFO)
    language = spoken()  # a command speaks its configuration's language (config_from_args) until it returns
    try:
        return _run(args)
    finally:
        speak(language)


def _run(args: argparse.Namespace) -> int:
    try:
        return int(args.func(args) or 0)
    except ConfigError as e:
        print(f"station: {e.message}", file=sys.stderr)
        for problem in e.problems:
            print(f"  {problem}", file=sys.stderr)
        print(f"  → {e.remedy}", file=sys.stderr)
        return e.exit_code
    except StationError as e:
        print(f"station: {visible_lines(e.message)}", file=sys.stderr)
        print(f"  → {visible_lines(e.remedy)}", file=sys.stderr)
        return e.exit_code
    except BrokenPipeError:
        # The reader went away (`station queue list | head`): stop quietly. What is still buffered for standard
        # output goes nowhere, or the interpreter's flush at exit would fail on the closed pipe again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as e:
        if e.errno not in NO_ROOM:
            raise
        print(f"station: {e.strerror}{f' ({e.filename})' if e.filename else ''}", file=sys.stderr)
        print("  → Free space there, or write somewhere else, and run the command again.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
