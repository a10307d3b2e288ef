"""`station pins …`: make the escrow key pair, and open escrowed PINs for hand-out (CSV or printable letters)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from station.commands.common import config_from_args
from station.config import read_secret
from station.enroll.escrow import context_for, generate_keypair, load_private_key, open_sealed
from station.enroll.handout import Handout, to_csv, to_html
from station.store import open_store

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("pins", help="escrow keys and PIN hand-out",
                       description="Create the PIN escrow key pair, or open escrowed PINs for hand-out.")
    ps = p.add_subparsers(dest="pins_command", metavar="ACTION", required=True)

    k = ps.add_parser("keygen", help="create an escrow key pair",
                      description="Write a new X25519 escrow key pair to DIR: escrow-public.pem (set "
                                  "enrolment.escrow_public_key to it) and escrow-private.pem (mode 0600; keep it "
                                  "off the station).")
    k.add_argument("--out", type=Path, required=True, metavar="DIR")
    k.set_defaults(func=cmd_keygen)

    e = ps.add_parser("export", help="decrypt escrowed PINs for hand-out",
                      description="Open the escrowed PINs with the operator's private key and write them as CSV "
                                  "or as printable letters (one per person). Only finished enrolments unless "
                                  "--all. The output holds PINs: write it to a protected place.")
    e.add_argument("--private-key", type=Path, required=True, metavar="FILE", help="escrow private key (PEM, 0600)")
    e.add_argument("--format", choices=["csv", "html"], default="csv")
    e.add_argument("--out", type=Path, metavar="FILE", help="write here (mode 0600) instead of standard output")
    e.add_argument("--all", action="store_true", help="also keys left needing a reset (their escrowed PIN)")
    e.add_argument("--organisation", default="", help="sender line on each letter")
    e.set_defaults(func=cmd_export)


def cmd_keygen(args: argparse.Namespace) -> int:
    public, private = generate_keypair(args.out)
    print(f"public key:  {public}\nprivate key: {private} (mode 0600; keep it off the station)")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    private_key = load_private_key(read_secret(str(args.private_key), "escrow private key"))
    store = open_store(cfg.store_url, cfg.station.id)
    try:
        states = {"done", "needs_reset"} if args.all else {"done"}
        entries = []
        for row in store.journal.with_escrow():
            if row.state not in states or row.pin_escrow is None:
                continue
            person = store.queue.get_by_id(row.person_id)
            if person is None:
                continue
            entries.append(Handout(
                upn=person.upn, display_name=person.display_name, key_model=row.model,
                passkey_name=row.display_name or "", pin=open_sealed(private_key, row.pin_escrow, context_for(row.id)),
                state=row.state, enrolment_id=row.id,
                enrolled_at=datetime.fromtimestamp(row.updated_at, UTC).isoformat(timespec="seconds"),
                pin_rules=row.pin_rules or "",
            ))
        store.audit.record("pins_exported", count=len(entries), format=args.format)
    finally:
        store.close()
    text = to_html(entries, args.organisation) if args.format == "html" else to_csv(entries)
    if args.out is None:
        sys.stdout.write(text)
    else:
        fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(args.out, 0o600)
    print(f"station: {len(entries)} PIN(s) exported", file=sys.stderr)
    return 0
