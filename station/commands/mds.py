"""`station mds load FILE` and `station mds show AAGUID`: FIDO Metadata Service (MDS3) data for key models."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from uuid import UUID

from station.commands.common import config_from_args, print_json
from station.keys.blob import DOWNLOAD_URL, MdsError, fido_root_der, load_root, verify_blob
from station.keys.catalogue import ModelFacts
from station.keys.persist import load_catalogue, load_info, save
from station.store import open_store


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("mds", help="FIDO metadata (MDS3): load a BLOB, show a key model",
                       description="FIDO Metadata Service data: key model names, status reports (a compromised "
                                   "or revoked model is refused at insertion) and attestation roots "
                                   "(enrolment.attestation = \"verify\"). Kept in the store, so every station "
                                   "sharing it uses the same BLOB; running stations pick it up when restarted "
                                   "or reloaded (systemctl reload station).")
    commands = p.add_subparsers(dest="mds_command", metavar="COMMAND")
    commands.required = True
    load = commands.add_parser("load", help="verify a downloaded MDS3 BLOB and store it",
                               description=f"Verify an MDS3 BLOB downloaded from {DOWNLOAD_URL} (a JWT) against "
                                           "FIDO's root certificate (GlobalSign Root CA - R3, shipped with "
                                           "Station) and store it. A BLOB whose signature or chain does not "
                                           "verify is refused; one past its nextUpdate is loaded with a warning.")
    load.add_argument("file", type=Path, metavar="FILE", help="the BLOB as downloaded (blob.jwt)")
    load.add_argument("--trust-root", type=Path, metavar="PEM",
                      help="verify against this root instead of FIDO's: for a private metadata service "
                           "that signs its own BLOBs")
    load.set_defaults(func=cmd_load)
    show = commands.add_parser("show", help="what the metadata says about a key model",
                               description="Print a model's name, status reports, certification level and "
                                           "number of attestation roots, from the stored BLOB (or the "
                                           "built-in names when none is loaded).")
    show.add_argument("aaguid", type=_aaguid, metavar="AAGUID")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.set_defaults(func=cmd_show)


def _aaguid(text: str) -> str:
    try:
        return str(UUID(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an AAGUID (a UUID): {text!r}") from None


def cmd_load(args: argparse.Namespace) -> int:
    try:
        data = args.file.read_bytes()
    except OSError as e:
        raise MdsError(f"cannot read {args.file}: {e.strerror}",
                       remedy="name the BLOB file downloaded from " + DOWNLOAD_URL) from None
    if args.trust_root is not None:
        try:
            root = load_root(args.trust_root.read_bytes(), str(args.trust_root))
        except OSError as e:
            raise MdsError(f"cannot read {args.trust_root}: {e.strerror}", remedy="name a PEM file") from None
    else:
        root = fido_root_der()
    blob = verify_blob(data, root)
    cfg = config_from_args(args)
    store = open_store(cfg.store_url, cfg.station.id)
    try:
        info = save(store.meta, blob)
        store.audit.record("mds_loaded", no=blob.number, next_update=info["next_update"], sha256=blob.sha256,
                           signer=blob.signer, private_root=args.trust_root is not None)
    finally:
        store.close()
    for warning in blob.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    models = sum(1 for e in blob.payload.get("entries") or [] if e.get("aaguid"))
    print(f"loaded MDS BLOB no. {blob.number} (nextUpdate {blob.next_update}): {models} FIDO2 models, "
          f"signed by {blob.signer}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    store = open_store(cfg.store_url, cfg.station.id)
    try:
        catalogue = load_catalogue(store.meta)
        info = load_info(store.meta)
    finally:
        store.close()
    facts = catalogue.get(args.aaguid)
    source = catalogue.source
    if catalogue.loaded and info is not None:
        source += f", loaded {info['loaded_at']}, signed by {info['signer']}"
    view = _view(args.aaguid, catalogue.name(args.aaguid), facts, source)
    if args.json:
        print_json(view)
        return 0 if facts is not None or not catalogue.loaded else 1
    print(f"{view['name']}  (AAGUID {args.aaguid})")
    print(f"  source         {view['source']}")
    if facts is None:
        print("  not in the loaded metadata" if catalogue.loaded else "  load a BLOB for statuses and roots: "
              "station mds load FILE")
        return 1 if catalogue.loaded else 0
    print(f"  certification  {view['certification']}")
    print(f"  roots          {view['attestation_roots']} attestation root certificate(s)")
    if view["refused"]:
        print(f"  REFUSED        {view['refused']}: Station will not enrol this model")
    print("  status reports")
    for report in facts.status_reports:
        url = f"  {report.url}" if report.url else ""
        print(f"    {report.effective_date or '(no date)':10}  {report.status}{url}")
    return 0


def _view(aaguid: str, name: str, facts: ModelFacts | None, source: str) -> dict[str, object]:
    view: dict[str, object] = {"aaguid": aaguid, "name": name, "source": source, "listed": facts is not None}
    if facts is not None:
        bad = facts.compromise
        view.update(certification=facts.certification, attestation_roots=len(facts.roots),
                    refused=bad.status if bad else None,
                    status_reports=[{"status": r.status, "effective_date": r.effective_date, "url": r.url}
                                    for r in facts.status_reports])
    return view
