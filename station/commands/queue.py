"""`station queue …`: add, import, list, show, retry, skip, resolve and export the people waiting for a key."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from station import csv_out
from station.commands.common import config_from_args, print_json
from station.states import PersonState
from station.text import visible

if TYPE_CHECKING:
    from station.store import Store

STATES = [s.value for s in PersonState]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    q = sub.add_parser("queue", help="manage the queue of people waiting for a key",
                       description="Manage the queue of people waiting for a security key.")
    qs = q.add_subparsers(dest="queue_command", metavar="ACTION", required=True)

    p = qs.add_parser("add", help="add one person", description="Add one person to the queue (idempotent).")
    p.add_argument("--upn", required=True, help="user principal name, e.g. kim@contoso.com")
    p.add_argument("--name", default="", help="display name")
    p.add_argument("--object-id", help="Entra object id (GUID)")
    p.add_argument("--key-serial", help="pre-assign this key (serial or fingerprint) to the person")
    p.add_argument("--priority", type=int, default=0, help="higher goes first (default 0)")
    p.set_defaults(func=cmd_add)

    p = qs.add_parser("import-csv", help="import people from a CSV file",
                      description="Import people from a CSV file with a header row: upn, display_name and "
                                  "optionally object_id, key_serial, priority, preferred_language (a language "
                                  "tag such as de-DE: the language of the person's PIN letter, as Entra ID's "
                                  "preferredLanguage). A malformed row rejects the "
                                  "whole file; each problem is reported with its line number. Control, "
                                  "bidirectional and zero-width characters and values longer than Entra ID "
                                  "allows (display name 256, UPN 113) are refused.")
    p.add_argument("file", type=Path)
    p.set_defaults(func=cmd_import_csv)

    p = qs.add_parser("list", help="list people", description="List people in queue order.")
    p.add_argument("--state", choices=STATES, help="only people in this state")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_list)

    p = qs.add_parser("show", help="show one person and their enrolments")
    p.add_argument("upn", help="UPN or object id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_show)

    p = qs.add_parser("retry", help="put a failed or skipped person back in the queue")
    p.add_argument("upn")
    p.set_defaults(func=cmd_retry)

    p = qs.add_parser("skip", help="skip a queued or failed person")
    p.add_argument("upn")
    p.add_argument("--note", default="skipped by operator", help="why (kept with the person)")
    p.set_defaults(func=cmd_skip)

    p = qs.add_parser("resolve", help="settle a person's unfinished enrolment by asking Entra ID",
                      description="Ask Entra ID whether the passkey of the person's unfinished (unresolved) "
                                  "enrolment was registered: if it was, the enrolment is finished and the person "
                                  "enrolled; if not, the person is queued again (a key that holds the credential "
                                  "must be reset). Refused, changing nothing, while Entra ID cannot be asked or "
                                  "a station is working on the person. A person a stopped station left claimed "
                                  "without an enrolment is queued again.")
    p.add_argument("upn", help="UPN or object id")
    p.set_defaults(func=cmd_resolve)

    p = qs.add_parser("export", help="export the queue as CSV or JSON",
                      description="Write every person in the queue (with the key pre-assigned to them, "
                                  "key_serial) to standard output as CSV or JSON; 'station queue import-csv' "
                                  "reads the CSV back. In the CSV, "
                                  "a text cell starting with =, +, -, @, a tab or a carriage return is written "
                                  "with a leading ' so that a spreadsheet shows it instead of running it.")
    p.add_argument("--format", choices=["csv", "json"], default="csv")
    p.set_defaults(func=cmd_export)


# The store (SQLAlchemy, SQLModel) and the configuration models load in the functions that use them: `station queue
# list` on a SQLite store reads it with sqlite3 alone (station/queue_listing.py).
def _store(args: argparse.Namespace) -> Store:
    from station.store import open_store

    cfg = config_from_args(args)
    return open_store(cfg.store_url, cfg.station.id)


def cmd_add(args: argparse.Namespace) -> int:
    from station.store import NewPerson

    store = _store(args)
    result = store.queue.add_people([NewPerson(upn=args.upn, display_name=args.name, object_id=args.object_id,
                                               key_serial=args.key_serial, priority=args.priority)])
    store.audit.record("person_added", upn=args.upn.lower(), source="manual")
    print("added" if result.added else "updated" if result.updated else "unchanged", visible(args.upn.lower()))
    return 0


def cmd_import_csv(args: argparse.Namespace) -> int:
    from station.store.csv_import import read_people_csv

    store = _store(args)
    with store.staged_import() as batch:
        batch.stage(read_people_csv(args.file))
        result = batch.apply()
    store.audit.record("csv_imported", file=str(args.file), added=result.added, updated=result.updated)
    rows = result.added + result.updated + result.unchanged
    print(f"{args.file}: {rows} rows — {result.added} added, {result.updated} updated, "
          f"{result.unchanged} unchanged")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from station.queue_listing import list_people, sqlite_store

    db = sqlite_store(args.config, args.store)
    people = list_people(db, args.state) if db is not None else None
    if people is None:
        people = [p.to_dict() for p in _store(args).queue.list(state=args.state)]
    if args.json:
        print_json(people)
        return 0
    if not people:
        print("the queue is empty" if not args.state else f"nobody is {args.state}")
        return 0
    w = max(len(visible(str(p["upn"]))) for p in people)
    for p in people:
        print(f"{p['state']!s:<9} {visible(str(p['upn'])):<{w}}  {visible(str(p['display_name']))}  "
              f"(attempts {p['attempts']})")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    store = _store(args)
    person = store.queue.get(args.upn)
    rows = store.journal.for_person(person.id)
    key = store.queue.key_assignment(person.id)
    if args.json:
        print_json({**person.to_dict(), "key_serial": key, "enrolments": [r.to_dict() for r in rows]})
        return 0
    print(f"{visible(person.display_name)} <{visible(person.upn)}>")
    print(f"  state:     {person.state}" + (f" — {visible(person.note)}" if person.note else ""))
    print(f"  object id: {visible(person.object_id or '-')}")
    print(f"  attempts:  {person.attempts} ({person.failures} failed)")
    if key:
        print(f"  key:       {visible(key)} (pre-assigned)")
    for r in rows:
        outcome = r.error_reason or r.method_id or ""
        print(visible(f"  enrolment {r.id}: {r.state} at {r.station_id} {r.slot} {r.model} {outcome}".rstrip()))
    return 0


def cmd_retry(args: argparse.Namespace) -> int:
    person = _store(args).queue.retry(args.upn)
    print(f"{visible(person.upn)} is queued again")
    return 0


def cmd_skip(args: argparse.Namespace) -> int:
    person = _store(args).queue.skip(args.upn, args.note)
    print(f"{visible(person.upn)} skipped")
    return 0


def cmd_resolve(args: argparse.Namespace) -> int:
    # The reconciler and the Graph client (msal, requests) only for this command, not for every `station queue`.
    from station.enroll.graph_gate import GraphGate
    from station.enroll.ports import SystemClock
    from station.enroll.reconcile import Reconciler
    from station.entra import EntraClient
    from station.events import EventBus
    from station.store import open_store
    from station.unresolved import resolve_person

    cfg = config_from_args(args)
    store = open_store(cfg.store_url, cfg.station.id)
    try:
        with EntraClient.from_config(cfg) as client:
            reconciler = Reconciler(cfg.station.id, store.queue, store.journal, store.audit, client.passkeys,
                                    EventBus(), SystemClock(), GraphGate(1), cfg.enrolment.lease_seconds)
            for line in resolve_person(store, reconciler, args.upn, preflight=client.tokens.token):
                print(visible(line))
    finally:
        store.close()
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    queue = _store(args).queue
    keys = queue.key_assignments()
    people = [{**p.to_dict(), "key_serial": keys.get(p.id)} for p in queue.list()]
    if args.format == "json":
        print_json(people)
        return 0
    fields = ["upn", "display_name", "object_id", "key_serial", "preferred_language", "state", "attempts", "priority",
              "source", "note"]
    csv_out.write_rows(sys.stdout, fields, people)
    return 0
