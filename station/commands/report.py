"""`station report`: the rollout report for a date range, read from the store (HTML, JSON or CSV)."""

from __future__ import annotations

import argparse
import sys
from datetime import date

from station.commands.common import config_from_args
from station.errors import ConfigError
from station.files import write_private_atomically
from station.report.build import DateRange, build, default_range
from station.report.flat import people_csv, to_json
from station.report.page import render
from station.report.rows import read_rows, with_refusals
from station.store import open_store


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("report", help="write the rollout report (HTML, JSON or CSV)",
                       description="Write the rollout report for a date range from the store (one station's SQLite "
                                   "or a fleet's PostgreSQL): people enrolled per day and per station, progress "
                                   "against the queue, failures by reason with what to do, time per key (median "
                                   "and p95) per station, keys by model, and the people still waiting or failed. "
                                   "The HTML is one self-contained file (inline charts, no script, nothing fetched). "
                                   "The CSV has one line per person the report covers. No PIN or secret is in any "
                                   "of them; days are in this machine's time zone.")
    p.add_argument("--since", type=_date, metavar="YYYY-MM-DD",
                   help="first day of the range (default: the day of the first enrolment)")
    p.add_argument("--until", type=_date, metavar="YYYY-MM-DD", help="last day of the range (default: today)")
    p.add_argument("--format", choices=["html", "json", "csv"], default="html", help="default html")
    p.add_argument("--out", metavar="PATH", help="write here (mode 0600, replaced atomically) instead of to "
                                                  "standard output")
    p.set_defaults(func=cmd_report)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; expected YYYY-MM-DD, e.g. 2026-03-01") from None


def cmd_report(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    store = open_store(cfg.store_url, cfg.station.id)
    try:
        rows = read_rows(store.engine)
        span = default_range(rows)
        span = DateRange(args.since or min(span.since, args.until or span.until), args.until or span.until)
        if span.since > span.until:
            raise ConfigError("--since is after --until", problems=[f"--since {span.since} > --until {span.until}"],
                              remedy="Give a --since on or before --until.")
        rows = with_refusals(store.engine, rows, span.start, span.end)
    finally:
        store.close()
    if args.format == "json":
        text = to_json(build(rows, span))
    elif args.format == "csv":
        text = people_csv(rows, span)
    else:
        text = render(build(rows, span))
    if args.out:
        write_private_atomically(args.out, text)
    else:
        sys.stdout.write(text)
    return 0
