"""`station config check|show|init`: validate, display (secrets redacted) and write configurations."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from station.commands.common import config_from_args, print_json
from station.config import Config, read_secret
from station.config_template import emulator_config, render_config
from station.errors import ConfigError, StationError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    c = sub.add_parser("config", help="check, show or create the configuration",
                       description="Check, show or create the station configuration.")
    cs = c.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    p = cs.add_parser("check", help="validate the configuration and the files it names")
    p.set_defaults(func=cmd_check)
    p = cs.add_parser("show", help="print the effective configuration (secrets are never shown)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_show)
    p = cs.add_parser("init", help="write a commented configuration file",
                      description="Write a commented example configuration to --config PATH (or stdout). "
                                  "With --emulator INFO_JSON (from 'station emulate entra --info-json'), write a "
                                  "complete working configuration for that emulator: secret file, CA, store and "
                                  "an escrow key pair beside it.")
    p.add_argument("--emulator", metavar="INFO_JSON", type=Path, help="configure for a running Entra emulator")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.set_defaults(func=cmd_init)


def check_files(cfg: Config) -> list[str]:
    """Problems with the files the configuration names (secrets are read to check permissions, never shown)."""
    problems: list[str] = []
    t = cfg.tenant
    if t.configured:
        if not (t.client_secret_file or (t.certificate_file and t.private_key_file)):
            problems.append("tenant: set client_secret_file, or certificate_file and private_key_file")
        for name, what in ((t.client_secret_file, "client secret"), (t.private_key_file, "private key")):
            if name:
                try:
                    read_secret(name, what)
                except StationError as err:
                    problems.append(f"tenant: {err.message} → {err.remedy}")
        for name in (t.certificate_file, t.ca_file):
            if name and not Path(name).is_file():
                problems.append(f"tenant: {name} does not exist")
    elif t.tenant_id or t.client_id:
        problems.append("tenant: set both tenant_id and client_id")
    e = cfg.enrolment
    if e.escrow_public_key and not Path(e.escrow_public_key).is_file():
        problems.append(f"enrolment.escrow_public_key: {e.escrow_public_key} does not exist")
    if e.min_pin_length and e.min_pin_length > e.pin_length:
        problems.append(f"enrolment.min_pin_length: {e.min_pin_length} is longer than pin_length {e.pin_length}")
    return problems


def cmd_check(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    problems = check_files(cfg)
    if problems:
        raise ConfigError(f"{len(problems)} problem(s) in {cfg.source or 'the embedded defaults'}", problems=problems)
    print(f"configuration OK ({cfg.source or 'embedded defaults'})")
    if not cfg.tenant.configured:
        print("note: no tenant is configured; Entra commands need [tenant] tenant_id and client_id")
    if not cfg.enrolment.escrow_public_key:
        print("note: no escrow_public_key; enrolment refuses to set PINs until one is configured")
    if cfg.enrolment.force_pin_change is not None:
        print(f"note: enrolment.force_pin_change is deprecated; it is read as pin_change = "
              f"\"{cfg.enrolment.pin_change}\" (\"require\" refuses keys without authenticatorConfig). Replace it "
              f"with pin_change = \"when_supported\" to enrol those keys and ask for the PIN change in the letter.")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    data = cfg.redacted()
    if args.json:
        print_json(data)
        return 0
    print(f"# from {cfg.source or 'embedded defaults'}")
    for section, values in data.items():
        print(f"[{section}]")
        for k, v in values.items():
            print(f"{k} = {json.dumps(v, ensure_ascii=False)}")
        print()
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    target = Path(args.config) if args.config else None
    if target and target.exists() and not args.force:
        raise ConfigError(f"{target} exists", remedy="Pass --force to overwrite it, or choose another --config.")
    if args.emulator:
        if target is None:
            raise ConfigError("--emulator needs --config PATH", remedy="Add --config PATH for the new file.")
        text = emulator_config(args.emulator, target.parent)
    else:
        text = render_config()
    if target is None:
        print(text, end="")
        return 0
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target}")
    return 0
