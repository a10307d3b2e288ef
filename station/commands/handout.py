"""`station handout …`: hand keys out for self-activation with a Temporary Access Pass, open the letters, and
track whether each person registered their key."""

from __future__ import annotations

import argparse
import csv
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from station.commands.common import config_from_args, print_json
from station.commands.pins import open_escrow_private_key
from station.enroll.escrow import PrivateKey, handout_pin_context, open_sealed
from station.entra import EntraClient
from station.entra.tap import TemporaryAccessPasses
from station.errors import StationError
from station.files import refuse_symlink, write_private_atomically
from station.hardening import disable_core_dumps
from station.lifecycle.handout import PERSON_GONE, Tracked, track
from station.lifecycle.handout_desk import HandoutDesk, escrow_for
from station.lifecycle.tap_letter import TapLetter, to_csv, to_html
from station.store import Store, open_store
from station.store.handouts import HandoutState, HandoutView, KeyPreparation, tap_context
from station.text import visible


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from station.cli import add_common_options

    h = sub.add_parser(
        "handout", help="hand keys out for the person to register themselves (Temporary Access Pass)",
        description="Hand a key out for self-activation: record it, replace the person's Temporary Access Pass "
                    "(TAP) with a new one ([delegation] tap_lifetime_minutes, tap_usable_once), seal the TAP to "
                    "the escrow key like a PIN, and take the person out of the station's queue. The app needs "
                    "UserAuthenticationMethod.ReadWrite.All. Open the letters with 'station handout letters', "
                    "track registrations with 'station handout verify'.")
    who = h.add_mutually_exclusive_group()
    who.add_argument("--upn", help="the person (UPN or object id; read from Entra ID when not in the store)")
    who.add_argument("--csv", type=Path, metavar="FILE", help="CSV with a upn column (and key_serial, aaguid)")
    who.add_argument("--group", metavar="NAME", help="every member of this Entra ID group (name or object id)")
    h.add_argument("--key-serial", metavar="S", help="the serial of the key handed out (with --upn)")
    h.add_argument("--aaguid", type=_aaguid, help="the key's model (AAGUID), when the inventory does not know the key")
    h.add_argument("--prepare-key", action=argparse.BooleanOptionalAction, default=None,
                   help="the next key inserted at this station is reset and given a random PIN (sealed, on the "
                        "letter) for this hand-out instead of being enrolled (default: [delegation] prepare_key)")
    add_common_options(h)
    h.set_defaults(func=cmd_handout)
    hs = h.add_subparsers(dest="handout_command", metavar="ACTION")

    p = hs.add_parser("verify", help="mark keys active once registered; list TAPs that expired unused (exit 1)",
                      description="For each key handed out and not yet registered: 'active' when a passkey of the "
                                  "key's model appeared for the person after the hand-out, 'expired' when the TAP "
                                  "ran out or was used without one. The TAP is deleted once of no further use. "
                                  "Exit 1 when any hand-out stands expired (hand the key out again).")
    p.add_argument("--json", action="store_true", help="machine-readable output (for a reminder job)")
    p.set_defaults(func=cmd_verify)

    p = hs.add_parser("list", help="every hand-out and its state", description="Every hand-out and its state.")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)

    p = hs.add_parser("letters", help="open the TAPs with the escrow private key and write the letters",
                      description="Write each waiting hand-out's letter (the TAP, its expiry, how to register the "
                                  "key at My Security Info) as CSV or printable HTML. The output holds the passes: "
                                  "write it to a protected place. In the CSV, a pass that starts with =, +, - or "
                                  "@ is written with a leading ' (a spreadsheet shows it without). A key prepared "
                                  "at the station adds its PIN; a hand-out whose key is still to be prepared gets "
                                  "its letter once it is.")
    p.add_argument("--private-key", type=Path, required=True, metavar="FILE", help="escrow private key (PEM)")
    p.add_argument("--passphrase-file", type=Path, metavar="FILE",
                   help="the private key's passphrase (first line of FILE, mode 0600); an encrypted key is "
                        "otherwise asked for it on the terminal")
    p.add_argument("--format", choices=["csv", "html"], default="html")
    p.add_argument("--out", type=Path, metavar="FILE", help="write here (mode 0600) instead of standard output")
    p.add_argument("--organisation", default="", help="sender line on each letter")
    p.set_defaults(func=cmd_letters)


def _aaguid(text: str) -> str:
    try:
        return str(uuid.UUID(text.strip()))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an AAGUID (8-4-4-4-12 hexadecimal digits)") from None


def _when(at: float | None) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC") if at else "-"


def _wanted(args: argparse.Namespace, client: EntraClient) -> Iterator[tuple[str, str | None, str | None]]:
    """(UPN or object id, key serial, AAGUID) of each person to hand a key out to."""
    if args.upn:
        yield args.upn, args.key_serial, args.aaguid
    elif args.csv:
        try:
            with open(args.csv, newline="", encoding="utf-8-sig") as f:
                rows = list(csv.DictReader(f))
        except (OSError, UnicodeDecodeError, csv.Error) as e:
            raise StationError(f"cannot read {args.csv}: {getattr(e, 'strerror', None) or e}",
                               remedy="Give a UTF-8 CSV file with a header row: upn (and key_serial, "
                                      "aaguid).") from None
        if rows and "upn" not in rows[0]:
            raise StationError(f"{args.csv} has no upn column", remedy="Give a header row with upn (and "
                               "key_serial, aaguid).")
        for row in rows:
            yield row["upn"].strip(), (row.get("key_serial") or "").strip() or None, \
                (row.get("aaguid") or "").strip() or args.aaguid
    else:
        group = client.directory.resolve_group(args.group)
        for member in client.directory.group_members(group.id):
            yield member.id, None, args.aaguid


def cmd_handout(args: argparse.Namespace) -> int:
    if not (args.upn or args.csv or args.group):
        raise StationError("say who gets a key", remedy="Give --upn UPN, --csv FILE or --group NAME "
                                                        "(or an action: verify, list, letters).")
    cfg = config_from_args(args)
    escrow_for(cfg.enrolment.escrow_public_key)  # refused before anything is made
    store = open_store(cfg.store_url, cfg.station.id)
    failed = 0
    try:
        with EntraClient.from_config(cfg) as client:
            desk = HandoutDesk(store, client, cfg.delegation, cfg.enrolment.escrow_public_key, cfg.station.id)
            for who, serial, aaguid in _wanted(args, client):
                try:
                    h = desk.hand_out(who, key_serial=serial, aaguid=aaguid, prepare_key=args.prepare_key)
                except StationError as e:
                    failed += 1
                    print(f"{visible(who)}: {visible(e.message)}\n  → {visible(e.remedy)}", file=sys.stderr)
                    continue
                print(f"{visible(h.upn)}: key {visible(h.key_serial or '-')} handed out; TAP sealed, works until "
                      f"{_when(h.tap_expires_at)}" + (f"; insert the key at station {visible(h.station_id)} to "
                                                      "prepare it" if h.key_preparation else ""))
    finally:
        store.close()
    print("open the letters with 'station handout letters --private-key FILE'", file=sys.stderr)
    return 1 if failed else 0


PREPARATION = {KeyPreparation.WAITING.value: "to be prepared at the station",
               KeyPreparation.PIN_ESCROWED.value: "being prepared (PIN sealed, not yet confirmed on the key)",
               KeyPreparation.PREPARED.value: "prepared (reset, PIN set)"}


def _line(h: HandoutView) -> str:
    return (f"{h.state:<11} {visible(h.upn)}  key {visible(h.key_serial or '-')}  {visible(h.model or h.aaguid or '')}"
            f"  handed out {_when(h.handed_out_at)}  TAP until {_when(h.tap_expires_at)}"
            + (f"  key {PREPARATION.get(h.key_preparation, h.key_preparation)}" if h.key_preparation else "")
            + (f"  ({visible(h.note)})" if h.note else ""))


def cmd_list(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    store = open_store(cfg.store_url, cfg.station.id)
    try:
        rows = store.handouts.find()
    finally:
        store.close()
    if args.json:
        print_json([h.to_dict() for h in rows])
    for h in rows if not args.json else []:
        print(_line(h))
    return 0


@dataclass(frozen=True)
class HandoutCheck:
    """What one tracking pass found: each waiting hand-out's outcome, and every hand-out standing expired."""

    tracked: list[Tracked]
    expired: list[HandoutView]

    def to_dict(self) -> dict[str, Any]:
        return {"checked": len(self.tracked),
                "activated": [t.handout.upn for t in self.tracked if t.outcome == "active"],
                "waiting": [t.handout.upn for t in self.tracked if t.outcome == "waiting"],
                "expired": [h.to_dict() for h in self.expired]}

    def lines(self) -> list[str]:
        deleted = {True: " (TAP deleted)", False: ""}
        out = [f"{t.outcome.upper():<8} {visible(t.handout.upn)}: {t.detail}{deleted[t.tap_deleted]}"
               for t in self.tracked]
        out += [f"EXPIRED  {visible(h.upn)}: " + (h.note if h.note == PERSON_GONE else
                                                  f"hand the key out again ({visible(h.note)})") for h in self.expired]
        return [*out, f"{len(self.tracked)} hand-out(s) checked: {len(self.expired)} expired unused"]


def check_handouts(store: Store, client: EntraClient) -> HandoutCheck:
    """Settle the waiting hand-outs against Entra ID (station handout verify, station keys verify)."""
    tracked = track(store, TemporaryAccessPasses(client.http), client.passkeys)
    return HandoutCheck(tracked, store.handouts.find(HandoutState.EXPIRED))


def cmd_verify(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    store = open_store(cfg.store_url, cfg.station.id)
    try:
        with EntraClient.from_config(cfg) as client:
            check = check_handouts(store, client)
    finally:
        store.close()
    if args.json:
        print_json(check.to_dict())
    else:
        print("\n".join(check.lines()))
    return 1 if check.expired else 0


def _letter(key: PrivateKey, h: HandoutView) -> TapLetter:
    """A waiting hand-out's letter: its TAP and, for a key prepared at the station, the key's PIN, both opened
    with the escrow private key."""
    assert h.tap_sealed is not None
    pin = open_sealed(key, h.pin_sealed, handout_pin_context(h.id)) if h.pin_sealed else ""
    return TapLetter(upn=h.upn, display_name=h.display_name, key_serial=h.key_serial or "", key_model=h.model,
                     temporary_access_pass=open_sealed(key, h.tap_sealed, tap_context(h.id)),
                     expires=_when(h.tap_expires_at), single_use=h.tap_usable_once, handout_id=h.id,
                     language=h.preferred_language or "", pin=pin)


def cmd_letters(args: argparse.Namespace) -> int:
    disable_core_dumps()
    cfg = config_from_args(args)
    if args.out is not None:
        refuse_symlink(args.out)
    key = open_escrow_private_key(args)
    store = open_store(cfg.store_url, cfg.station.id)
    try:
        waiting = [h for h in store.handouts.find(HandoutState.HANDED_OUT) if h.tap_sealed]
        unprepared = [h for h in waiting if h.key_preparation not in (None, KeyPreparation.PREPARED.value)]
        letters = [_letter(key, h) for h in waiting if h not in unprepared]
        store.audit.record("handout_letters_exported", count=len(letters), format=args.format)
    finally:
        store.close()
    for h in unprepared:
        print(f"station: no letter yet for {visible(h.upn)}: their key is still to be prepared (insert it at "
              f"station {visible(h.station_id)})", file=sys.stderr)
    text = to_html(letters, args.organisation, cfg.station.language) if args.format == "html" else to_csv(letters)
    if args.out is None:
        sys.stdout.write(text)
    else:
        write_private_atomically(args.out, text)
    print(f"station: {len(letters)} letter(s) written", file=sys.stderr)
    return 0
