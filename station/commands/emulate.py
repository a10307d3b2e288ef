"""`station emulate …`: run Station's emulators by hand — ``key`` (virtual security key) and ``entra``.

``station emulate key --export-root FILE`` writes the virtual keys' attestation root CA;
``station emulate key --nfc …`` inserts one virtual key into a vpcd reader of pcscd and serves it until
SIGINT/SIGTERM (which remove the card).
``station emulate entra …`` serves an Entra ID / Graph tenant over HTTPS on 127.0.0.1 until SIGINT/SIGTERM;
``--info-json FILE`` tells clients how to connect (``station config init --emulator FILE``); ``--trust-root PEM``
(repeatable) adds attestation roots the tenant trusts beside the virtual keys' own, and
``--no-attestation-enforced`` accepts keys whose attestation no trusted root vouches for.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any
from uuid import UUID

from station.commands.common import register_without_emulators

log = logging.getLogger(__name__)

DEFAULT_VPCD_HOST = "127.0.0.1"
DEFAULT_VPCD_PORT = 35963


HELP = "run an emulator (virtual security key, …)"


def register(subparsers: Any) -> None:
    try:
        import station_emulator  # noqa: F401  (a distribution of its own: absent from the service package)
    except ImportError:
        register_without_emulators(subparsers, "emulate", HELP)
        return
    parser = subparsers.add_parser(
        "emulate", help=HELP,
        description="Run one of Station's emulators: dry runs and tests without hardware or a live tenant.",
    )
    emulators = parser.add_subparsers(dest="emulator", metavar="EMULATOR")
    emulators.required = True
    register_key(emulators)
    register_entra(emulators)


def register_key(emulators: Any) -> None:
    from station_emulator.key.profiles import PROFILES, Quirk

    parser = emulators.add_parser(
        "key", help="a virtual FIDO2 security key",
        description="A virtual CTAP 2.1 security key: export its attestation root, or serve it over NFC "
                    "through pcscd's vpcd reader.",
    )
    parser.add_argument("--export-root", metavar="FILE", type=Path,
                        help="write the emulator's attestation root CA certificate (PEM) to FILE")
    parser.add_argument("--nfc", action="store_true",
                        help="insert the key into a vpcd reader and serve it until interrupted")
    parser.add_argument("--vpcd-host", default=DEFAULT_VPCD_HOST,
                        help="vpcd address (loopback only; default 127.0.0.1)")
    parser.add_argument("--vpcd-port", type=int, default=DEFAULT_VPCD_PORT, help="vpcd port (default 35963)")
    parser.add_argument("--profile", choices=list(PROFILES), default="fido21", metavar="NAME",
                        help="key model: " + "; ".join(
                            f"{p.name} ({p.product_name}{', ' + p.firmware_label if p.firmware_label else ''})"
                            for p in PROFILES.values()) + " (default fido21)")
    parser.add_argument("--quirk", action="append", choices=[q.value for q in Quirk], default=[], metavar="NAME",
                        help="a real keys' misbehaviour to add (repeatable): " + "; ".join(
                            f"{q.value}: {q.description}" for q in Quirk))
    parser.add_argument("--aaguid", type=_aaguid, help="AAGUID to report (default: the profile's)")
    parser.add_argument("--state", metavar="FILE", type=Path,
                        help="keep the key's PIN, credentials and counters in FILE across runs")
    parser.add_argument("--touch-delay", metavar="SECONDS|never", type=_touch_delay, default=0.0,
                        help="seconds until the simulated user touches the key, or 'never'")
    parser.set_defaults(func=run_key, parser=parser)


def _aaguid(text: str) -> str:
    try:
        return str(UUID(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a UUID: {text!r}") from None


def _touch_delay(text: str) -> float | None:
    if text.strip().lower() == "never":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds or 'never', got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("the touch delay cannot be negative")
    return value


def run_key(args: argparse.Namespace) -> int:
    if args.export_root is None and not args.nfc:
        args.parser.error("choose --export-root FILE and/or --nfc")
    if args.export_root is not None:
        from station.files import write_private_atomically
        from station_emulator.key import attestation_root_pem

        write_private_atomically(args.export_root, attestation_root_pem())
        print(f"attestation root written to {args.export_root}")
    if not args.nfc:
        return 0
    from station_emulator.key import Finger, VirtualKey
    from station_emulator.key.profiles import parse_quirks
    from station_emulator.key.vpcd import serve

    finger = Finger.never() if args.touch_delay is None else Finger.after(args.touch_delay)
    key = VirtualKey(args.profile, aaguid=args.aaguid, state_path=args.state, finger=finger,
                     quirks=parse_quirks(args.quirk))
    log.info("serving %r on vpcd %s:%d", key, args.vpcd_host, args.vpcd_port)
    serve(key, args.vpcd_host, args.vpcd_port)
    return 0


def register_entra(emulators: Any) -> None:
    parser = emulators.add_parser(
        "entra", help="an Entra ID / Microsoft Graph tenant over HTTPS",
        description="Serve an emulated Entra ID tenant (token endpoint and Graph) on 127.0.0.1 until interrupted.",
    )
    parser.add_argument("--port", type=int, default=0, help="TCP port (default: any free port)")
    parser.add_argument("--users", type=_non_negative_int, default=50, help="number of users (default 50)")
    parser.add_argument("--group-size", type=_non_negative_int, default=None,
                        help="members of the 'Passkey rollout' group (default: every user)")
    parser.add_argument("--seed", type=int, default=1, help="same seed, same tenant (default 1)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every Graph call")
    parser.add_argument("--throttle-rate", type=_fraction, default=0.0,
                        help="fraction of Graph calls answered 429 with Retry-After")
    parser.add_argument("--error-rate", type=_fraction, default=0.0, help="fraction of Graph calls answered 503")
    parser.add_argument("--info-json", metavar="FILE", type=Path,
                        help="write authority, Graph URL, client credentials and CA file here (mode 0600)")
    parser.add_argument("--cert-dir", metavar="DIR", type=Path,
                        help="keep the CA and certificates here (default: a temporary directory)")
    parser.add_argument("--trust-root", metavar="PEM", type=_root_pem, action="append", default=[],
                        help="also trust attestations chaining to this root certificate (PEM; repeatable), "
                             "e.g. a real key model's root from its FIDO metadata, for a dry run with that key")
    parser.add_argument("--attestation-enforced", action=argparse.BooleanOptionalAction, default=True,
                        help="refuse passkeys whose attestation no trusted root vouches for, as Entra ID does "
                             "with 'Enforce attestation' (default: enforced)")
    parser.set_defaults(func=run_entra)


def _root_pem(text: str) -> bytes:
    from cryptography import x509

    try:
        pem = Path(text).read_bytes()
    except OSError as e:
        raise argparse.ArgumentTypeError(f"cannot read {text}: {e.strerror}") from None
    try:
        x509.load_pem_x509_certificates(pem)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text} holds no PEM certificate") from None
    return pem


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def run_entra(args: argparse.Namespace) -> int:
    import signal
    import threading

    from station_emulator.entra import EntraEmulator
    from station_emulator.key import attestation_root_pem

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    emulator = EntraEmulator(port=args.port, users=args.users, group_size=args.group_size, seed=args.seed,
                             latency_ms=args.latency_ms, throttle_rate=args.throttle_rate,
                             error_rate=args.error_rate, cert_dir=args.cert_dir,
                             trusted_roots=[attestation_root_pem(), *args.trust_root],
                             attestation_enforced=args.attestation_enforced)
    with emulator:
        info = emulator.info
        if args.info_json is not None:
            args.info_json.parent.mkdir(parents=True, exist_ok=True)
            emulator.write_info(args.info_json)
        print(f"Entra emulator listening on {info.graph_url}", flush=True)
        print(f"  authority {info.authority}", flush=True)
        print(f"  CA file   {info.ca_file}", flush=True)
        print(f"  group     {info.group_name} ({info.group_id}), {len(emulator.tenant.users)} users", flush=True)
        if args.info_json is not None:
            print(f"  info      {args.info_json}", flush=True)
        enforced = "enforced" if args.attestation_enforced else "not enforced"
        print(f"  attestation {enforced}; {len(emulator.trusted_roots)} trusted root(s)", flush=True)
        stop.wait()
    return 0
