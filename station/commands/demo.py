"""`station demo`: the whole station against an emulated tenant and emulated keys."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from station.commands.common import register_without_emulators
from station.i18n import LANGUAGES

HELP = "the whole station against emulated keys and an emulated Entra ID tenant"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    try:
        import station_emulator  # noqa: F401  (a distribution of its own: absent from the service package)
    except ImportError:
        register_without_emulators(sub, "demo", HELP)
        return
    p = sub.add_parser("demo", help=HELP,
                       description="Start an emulated Entra ID tenant, import its rollout group and let a "
                                   "scripted technician enrol everyone with virtual security keys, several at "
                                   "once. On a terminal it shows the dashboard, which closes by itself a few "
                                   "seconds after the queue is done; elsewhere (or with --headless) it prints "
                                   "progress lines. "
                                   "Either way it ends with a summary and exits (0 when everyone was enrolled).")
    p.add_argument("--users", type=int, default=20, metavar="N", help="people in the tenant's group (default 20)")
    p.add_argument("--keys", type=int, default=4, metavar="N", help="keys in the station at once (default 4)")
    p.add_argument("--speed", type=float, default=1.0, metavar="F",
                   help="how much faster than a person the technician is (default 1)")
    p.add_argument("--seed", type=int, default=1, metavar="N", help="seed for the tenant and the technician")
    p.add_argument("--state-dir", type=Path, metavar="DIR",
                   help="keep the demo's store, configuration and keys here (default: a temporary directory)")
    p.add_argument("--headless", action="store_true",
                   help="progress lines and a summary, even on a terminal (default there: the dashboard)")
    p.add_argument("--timeout", type=float, default=900.0, metavar="SECONDS",
                   help="give up after this long (default 900)")
    p.add_argument("--profile", default="fido21", metavar="NAME", type=_profile,
                   help="the key model every virtual key imitates, e.g. yubikey5-5.4, titan-v2 or crescendo-v3 "
                        "(default fido21); 'station emulate key --help' lists them")
    p.add_argument("--quirk", action="append", default=[], metavar="NAME", type=_quirk,
                   help="add a real keys' misbehaviour to every key: ignores-cancel, pin-protocol-2-fails, "
                        "short-apdus-only (repeatable)")
    p.add_argument("--language", default="en", choices=LANGUAGES,
                   help="the station's language ([station] language): the dashboard, the remedies and the letters "
                        "of people the tenant gives no preferredLanguage (default en)")
    p.add_argument("--stations", type=int, default=1, metavar="N",
                   help="run N station daemons, each its own process with its own keys, on one store (with "
                        "--store URL, e.g. PostgreSQL) and one Entra emulator; progress lines, no dashboard")
    p.set_defaults(func=cmd_demo)


def _profile(text: str) -> str:
    from station_emulator.key.profiles import PROFILES

    if text not in PROFILES:
        raise argparse.ArgumentTypeError(f"unknown key profile {text!r}; choose one of {', '.join(PROFILES)}")
    return text


def _quirk(text: str) -> str:
    from station_emulator.key.profiles import parse_quirks

    try:
        parse_quirks([text])
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def cmd_demo(args: argparse.Namespace) -> int:
    from station_emulator.demo import DemoOptions, run_demo

    if args.users < 1 or args.keys < 1 or args.speed <= 0 or args.stations < 1:
        print("station demo: --users, --keys and --stations must be at least 1, --speed above 0", file=sys.stderr)
        return 2
    if not args.verbose:
        logging.getLogger().setLevel(logging.WARNING)
    if args.stations > 1 or args.store:
        return _fleet_demo(args)
    dashboard = not args.headless and sys.stdin.isatty() and sys.stdout.isatty()
    result = run_demo(DemoOptions(users=args.users, keys=args.keys, speed=args.speed, seed=args.seed,
                                  state_dir=args.state_dir, timeout=args.timeout, dashboard=dashboard,
                                  profile=args.profile, quirks=tuple(args.quirk), language=args.language))
    print("\n".join(["", "Summary", *result.lines()]))
    return 0 if result.completed else 1


def _fleet_demo(args: argparse.Namespace) -> int:
    from station_emulator.demo import DemoOptions
    from station_emulator.demo.fleet import run_fleet_demo

    result = run_fleet_demo(DemoOptions(users=args.users, keys=args.keys, speed=args.speed, seed=args.seed,
                                        state_dir=args.state_dir, timeout=args.timeout, profile=args.profile,
                                        quirks=tuple(args.quirk), language=args.language), args.stations, args.store)
    print("\n".join(["", "Summary", *result.lines()]))
    return 0 if result.completed else 1
