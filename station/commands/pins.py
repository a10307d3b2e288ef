"""`station pins …`: make the escrow key pair, and open escrowed PINs for hand-out (CSV or printable letters)."""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

from station.commands.common import config_from_args
from station.config import read_secret
from station.enroll.escrow import (
    EscrowError,
    PrivateKey,
    context_for,
    generate_keypair,
    load_private_key,
    open_sealed,
    private_key_is_encrypted,
)
from station.enroll.handout import Handout, to_csv, to_html
from station.files import refuse_symlink, write_private_atomically
from station.hardening import disable_core_dumps
from station.store import open_store

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("pins", help="escrow keys and PIN hand-out",
                       description="Create the PIN escrow key pair, or open escrowed PINs for hand-out.")
    ps = p.add_subparsers(dest="pins_command", metavar="ACTION", required=True)

    k = ps.add_parser("keygen", help="create an escrow key pair",
                      description="Write a new X25519 escrow key pair to DIR: escrow-public.pem (set "
                                  "enrolment.escrow_public_key to it) and escrow-private.pem (mode 0600; keep it "
                                  "off the station). With --passphrase or --passphrase-file the private key is "
                                  "encrypted (PKCS#8); 'pins export' then asks for the passphrase.")
    k.add_argument("--out", type=Path, required=True, metavar="DIR")
    secret = k.add_mutually_exclusive_group()
    secret.add_argument("--passphrase", action="store_true",
                        help="encrypt the private key with a passphrase typed twice on this terminal")
    secret.add_argument("--passphrase-file", type=Path, metavar="FILE",
                        help="encrypt the private key with the passphrase in FILE (first line, mode 0600)")
    k.set_defaults(func=cmd_keygen)

    e = ps.add_parser("export", help="decrypt escrowed PINs for hand-out",
                      description="Open the escrowed PINs with the operator's private key and write them as CSV "
                                  "or as printable letters (one per person, in the person's preferredLanguage "
                                  "from Entra ID when it is English, German, French, Spanish or Dutch, else in "
                                  "[station] language). Only finished enrolments unless "
                                  "--all. The output holds PINs: write it to a protected place. In the CSV, a "
                                  "cell a spreadsheet would run as a formula (=, +, -, @, tab, carriage return "
                                  "first) is written with a leading '.")
    e.add_argument("--private-key", type=Path, required=True, metavar="FILE", help="escrow private key (PEM, 0600)")
    e.add_argument("--passphrase-file", type=Path, metavar="FILE",
                   help="the private key's passphrase (first line of FILE, mode 0600); an encrypted key is "
                        "otherwise asked for it on the terminal")
    e.add_argument("--format", choices=["csv", "html"], default="csv")
    e.add_argument("--out", type=Path, metavar="FILE",
                   help="write here instead of standard output: mode 0600, replaced whole (never half-written), "
                        "never through a symbolic link")
    e.add_argument("--all", action="store_true", help="also keys left needing a reset (their escrowed PIN)")
    e.add_argument("--organisation", default="", help="sender line on each letter")
    e.set_defaults(func=cmd_export)


def cmd_keygen(args: argparse.Namespace) -> int:
    disable_core_dumps()
    passphrase = None
    if args.passphrase_file is not None:
        passphrase = passphrase_from_file(args.passphrase_file)
    elif args.passphrase:
        passphrase = _prompt("Passphrase for the escrow private key: ", "--passphrase")
        if _prompt("The same passphrase again: ", "--passphrase") != passphrase:
            raise EscrowError("the two passphrases differ; no key was written",
                              remedy="Run 'station pins keygen --passphrase' again and type the same one twice.")
    public, private = generate_keypair(args.out, passphrase)
    sealed = "encrypted with the passphrase, " if passphrase else ""
    print(f"public key:  {public}\nprivate key: {private} ({sealed}mode 0600; keep it off the station)")
    return 0


def passphrase_from_file(path: Path) -> bytes:
    """The first line of a passphrase file (0600, like every secret file); an empty one is refused."""
    lines = read_secret(str(path), "passphrase").splitlines()
    if not lines or not lines[0]:
        raise EscrowError(f"the passphrase file {path} is empty", remedy="Put the passphrase on its first line.")
    return lines[0]


def _prompt(text: str, option: str) -> bytes:
    if not sys.stdin.isatty():
        raise EscrowError(f"{option} asks on a terminal, and standard input is not one",
                          remedy="Run it on a terminal, or use --passphrase-file FILE.")
    typed = getpass.getpass(text)
    if not typed:
        raise EscrowError("an empty passphrase", remedy="Type a passphrase (it protects every escrowed PIN).")
    return typed.encode("utf-8")


def open_escrow_private_key(args: argparse.Namespace) -> PrivateKey:
    """The escrow private key of --private-key, opened with --passphrase-file or a passphrase asked on the terminal."""
    pem = read_secret(str(args.private_key), "escrow private key")
    if args.passphrase_file is not None:
        return load_private_key(pem, passphrase_from_file(args.passphrase_file))
    if private_key_is_encrypted(pem):
        return load_private_key(pem, _prompt(f"Passphrase for {args.private_key}: ",
                                             "an encrypted escrow private key"))
    return load_private_key(pem)


def cmd_export(args: argparse.Namespace) -> int:
    disable_core_dumps()
    cfg = config_from_args(args)
    if args.out is not None:
        refuse_symlink(args.out)
    private_key = open_escrow_private_key(args)
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
                pin_rules=row.pin_rules or "", language=person.preferred_language or "",
            ))
        store.audit.record("pins_exported", count=len(entries), format=args.format)
    finally:
        store.close()
    text = to_html(entries, args.organisation, cfg.station.language) if args.format == "html" else to_csv(entries)
    if args.out is None:
        sys.stdout.write(text)
    else:
        write_private_atomically(args.out, text)
    print(f"station: {len(entries)} PIN(s) exported", file=sys.stderr)
    return 0
