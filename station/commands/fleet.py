"""`station fleet`: every station sharing the store (slots, version, heartbeat age, alive or stale) and queue totals."""

from __future__ import annotations

import argparse

from station.commands.common import config_from_args, print_json
from station.fleet import STALE_AFTER_SECONDS, fleet_view, render
from station.store import open_store


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("fleet", help="show every station sharing this store",
                       description="Show every station that shares this store (a PostgreSQL fleet, or one "
                                   "station on SQLite): its slots, version, last heartbeat and whether it is "
                                   "alive or stale, and the queue totals.")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--stale-after", type=float, default=STALE_AFTER_SECONDS, metavar="SECONDS",
                   help=f"a station whose last heartbeat is older than this is stale (default {STALE_AFTER_SECONDS:g})")
    p.set_defaults(func=cmd_fleet)


def cmd_fleet(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    store = open_store(cfg.store_url, cfg.station.id)
    try:
        view = fleet_view(store, stale_after=args.stale_after)
    finally:
        store.close()
    if args.json:
        print_json(view.to_dict())
    else:
        print(render(view))
    return 0
