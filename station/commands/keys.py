"""`station keys …`: the inventory of enrolled keys — list, show, export — and their lifecycle: revoke, replace,
verify against Entra ID."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Final

from station import csv_out
from station.commands.common import config_from_args, print_json, progress_line
from station.commands.handout import check_handouts
from station.entra import EntraClient
from station.errors import NotFoundError
from station.lifecycle.drift import find_drift
from station.lifecycle.revoke import Revoked, RevokeReason, revoke
from station.lifecycle.service import replace_person
from station.states import KeyState
from station.store import Store, open_store
from station.store.handouts import HandoutState
from station.store.inventory import KeyFilter, KeyView
from station.text import visible

STATES = [s.value for s in KeyState]
VERIFY_CONCURRENCY: Final = 8
MAX_CONCURRENCY: Final = 32
REASONS = [r.value for r in RevokeReason]
EXPORT_FIELDS = ["identity", "serial", "model", "firmware", "aaguid", "state", "reason", "upn", "display_name",
                 "object_id", "method_id", "station_id", "enrolled_at", "revoked_at"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    k = sub.add_parser("keys", help="the inventory of enrolled keys, and revoking or replacing them",
                       description="Every key Station enrolled — its serial (or fingerprint), model, holder and "
                                   "state — and its lifecycle: revoke a lost key's passkey in Entra ID, replace "
                                   "a key, find drift between the inventory and Entra ID.")
    ks = k.add_subparsers(dest="keys_command", metavar="ACTION", required=True)

    for name, helptext in (("list", "list keys"), ("export", "write every key as CSV or JSON")):
        p = ks.add_parser(name, help=helptext, description=f"{helptext.capitalize()}; filters combine.")
        p.add_argument("--state", choices=STATES, help="only keys in this state")
        p.add_argument("--person", metavar="UPN", help="only this person's keys (UPN or object id)")
        p.add_argument("--model", help="only models whose name contains this")
        p.add_argument("--station", help="only keys enrolled at this station id")
        if name == "list":
            p.add_argument("--json", action="store_true", help="machine-readable output")
            p.set_defaults(func=cmd_list)
        else:
            p.add_argument("--format", choices=["csv", "json"], default="csv")
            p.set_defaults(func=cmd_export)

    p = ks.add_parser("show", help="one key's records and holder",
                      description="Show every inventory record of a key (by serial or identity), or a person's keys.")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--serial", help="the key's serial (or the identity 'station keys list' shows)")
    who.add_argument("--upn", help="a person's UPN or object id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_show)

    p = ks.add_parser("revoke", help="delete a key's passkey in Entra ID",
                      description="Delete the passkey of a person's key(s), or of one key, in Entra ID (the app "
                                  "needs UserAuthMethod-Passkey.ReadWrite.All or "
                                  "UserAuthenticationMethod.ReadWrite.All) and record why. Safe to run "
                                  "again: a key already revoked is left alone, and a revocation a crash "
                                  "interrupted is finished. A passkey already deleted in Entra ID counts as "
                                  "revoked. Reasons lost and stolen make the key 'lost', left and replaced "
                                  "'revoked'; a person left with no live key is no longer 'enrolled'.")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--upn", help="revoke every live key of this person (UPN or object id)")
    who.add_argument("--serial", help="revoke this key (serial or identity)")
    p.add_argument("--reason", required=True, choices=REASONS)
    p.set_defaults(func=cmd_revoke)

    p = ks.add_parser("replace", help="revoke a person's key and queue them again, ahead of others",
                      description="Revoke every live key of the person (reason 'replaced') and queue them again "
                                  "ahead of everyone waiting, with their attempts restored.")
    p.add_argument("--upn", required=True, help="UPN or object id")
    p.set_defaults(func=cmd_replace)

    p = ks.add_parser("verify", help="compare the inventory with Entra ID (exit 1 on drift)",
                      description="List each key holder's passkeys in Entra ID and report drift: a passkey "
                                  "removed in Entra ID, one a revoked key still has, passkeys registered "
                                  "elsewhere, a model mismatch, a person Entra ID no longer knows; and settle keys "
                                  "handed out for self-activation, as 'station handout verify' does (JSON: "
                                  "'handouts', when there are any). Exit 0 when "
                                  "clean, 1 on drift or a hand-out whose TAP expired unused.")
    p.add_argument("--json", action="store_true", help="machine-readable output (for cron)")
    p.add_argument("--concurrency", type=_concurrency, default=VERIFY_CONCURRENCY, metavar="N",
                   help=f"people asked about at once, 1-{MAX_CONCURRENCY} (default {VERIFY_CONCURRENCY}; "
                        "Graph throttling is waited out either way)")
    p.set_defaults(func=cmd_verify)


def _concurrency(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if not 1 <= n <= MAX_CONCURRENCY:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number from 1 to {MAX_CONCURRENCY}")
    return n


@contextmanager
def _store(args: argparse.Namespace) -> Iterator[Store]:
    cfg = config_from_args(args)
    store = open_store(cfg.store_url, cfg.station.id)
    try:
        yield store
    finally:
        store.close()


def _filter(args: argparse.Namespace) -> KeyFilter:
    return KeyFilter(state=args.state, person=args.person, model=args.model, station=args.station)


def _when(at: float | None) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M") if at else "-"


def _line(k: KeyView) -> str:
    why = f" ({k.reason})" if k.reason else ""
    return (f"{k.state + why:<18} {visible(k.identity):<20} {visible(k.model):<28} {visible(k.upn)}  "
            f"{visible(k.display_name)}  enrolled {_when(k.enrolled_at)} at {visible(k.station_id)}")


def cmd_list(args: argparse.Namespace) -> int:
    with _store(args) as store:
        keys = store.inventory.find(_filter(args))
    if args.json:
        print_json([k.to_dict() for k in keys])
    elif not keys:
        print("no keys match" if any(vars(_filter(args)).values()) else "no keys enrolled yet")
    for k in keys if not args.json else []:
        print(_line(k))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    with _store(args) as store:
        rows = [k.to_dict() for k in store.inventory.find(_filter(args))]
    if args.format == "json":
        print_json(rows)
    else:
        csv_out.write_rows(sys.stdout, EXPORT_FIELDS, rows)
    return 0


def _keys_of(store: Store, *, upn: str | None, serial: str | None) -> list[KeyView]:
    if serial is not None:
        keys = store.inventory.by_serial(serial.strip())
        if not keys:
            raise NotFoundError(f"no key {serial!r} in the inventory",
                                remedy="List the keys with 'station keys list' (the identity column).")
        return keys
    person = store.queue.get(upn or "")
    keys = store.inventory.of_person(person.id)
    if not keys:
        raise NotFoundError(f"{person.upn} holds no key Station enrolled",
                            remedy="Check with 'station keys list --person UPN'.")
    return keys


def cmd_show(args: argparse.Namespace) -> int:
    with _store(args) as store:
        keys = _keys_of(store, upn=args.upn, serial=args.serial)
    if args.json:
        print_json([k.to_dict() for k in keys])
        return 0
    for k in keys:
        print(f"{visible(k.identity)}: {visible(k.model)} firmware {k.firmware or '-'} (AAGUID {k.aaguid})")
        print(f"  holder:   {visible(k.display_name)} <{visible(k.upn)}>")
        print(f"  state:    {k.state}" + (f" ({k.reason}, {_when(k.revoked_at)})" if k.reason else ""))
        print(f"  enrolled: {_when(k.enrolled_at)} at {visible(k.station_id)} (enrolment {k.enrolment_id})")
        print(f"  passkey:  method {visible(k.method_id or '-')}")
    return 0


def _revoke_all(store: Store, client: EntraClient, keys: list[KeyView], reason: RevokeReason) -> list[Revoked]:
    done = []
    for key in keys:
        done.append(revoke(store.inventory, client.passkeys, store.audit, store.queue, key, reason))
    return done


def _report(results: list[Revoked]) -> None:
    for r in results:
        k = r.key
        if not r.changed:
            print(f"{visible(k.identity)} of {visible(k.upn)} was already {k.state}: nothing to do")
        else:
            gone = " (Entra ID had already deleted its passkey)" if r.already_gone else ""
            print(f"{visible(k.identity)} of {visible(k.upn)} revoked ({k.reason}): now {k.state}{gone}")


def cmd_revoke(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    store = open_store(cfg.store_url, cfg.station.id)
    try:
        keys = _keys_of(store, upn=args.upn, serial=args.serial)
        with EntraClient.from_config(cfg) as client:
            _report(_revoke_all(store, client, keys, RevokeReason(args.reason)))
    finally:
        store.close()
    return 0


def cmd_replace(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    store = open_store(cfg.store_url, cfg.station.id)
    try:
        with EntraClient.from_config(cfg) as client:
            _report(replace_person(store, client.passkeys, args.upn))
        print(f"{visible(store.queue.get(args.upn).upn)} is queued again, ahead of everyone waiting")
    finally:
        store.close()
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    store = open_store(cfg.store_url, cfg.station.id)
    try:
        keys = store.inventory.find()
        with EntraClient.from_config(cfg) as client:
            handouts = check_handouts(store, client)
            checked, drift = find_drift(keys, client.passkeys, workers=args.concurrency,
                                        progress=progress_line("checked", "people") if sys.stderr.isatty() else None)
        handed = {h.method_id for h in store.handouts.find(HandoutState.ACTIVE)}
        drift = [d for d in drift if not (d.kind == "registered_elsewhere" and d.method_id in handed)]
    finally:
        store.close()
    delegated = bool(handouts.tracked or handouts.expired)
    if args.json:
        print_json({"clean": not drift, "people_checked": checked, "keys": len(keys),
                    "drift": [d.to_dict() for d in drift]} | ({"handouts": handouts.to_dict()} if delegated else {}))
    else:
        for d in drift:
            print(f"DRIFT {d.kind}: {visible(d.upn)} {visible(d.key) or '-'} method {visible(d.method_id)}: "
                  f"{visible(d.detail)}")
        print(f"{len(keys)} keys of {checked} people checked: " + (f"{len(drift)} drift" if drift else "clean"))
        if delegated:
            print("\n".join(handouts.lines()))
    return 1 if drift or handouts.expired else 0
