"""Secrets stay secret: after a full run of the daemon as a process, with debug logging and the PIN shown on
screen, keys handed out through the control socket (one registered by its person with the pass, which the
daemon's periodic check then settles) and one key prepared for a hand-out (reset, and given a PIN sealed on the
hand-out), the actual secret values appear nowhere they should not.

Searched for: every PIN the keys got (opened from the escrow with the private key), the prepared key's PIN
and every Temporary Access Pass made for a hand-out (opened the same way), every access token the Entra
emulator issued, the client secret, the escrow private key and the emulator's TLS private key.
Searched in: the daemon's debug log, the SQLite database files (with the escrow ciphertexts blanked out),
the event stream a control-socket subscriber received and the control socket's answers to the hand-outs.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from invariants import check
from rig import StationProcess, station_config, wait_until, write_toml

from station.control_client import ControlClient
from station.enroll.escrow import context_for, handout_pin_context, load_private_key, open_sealed
from station.entra import EntraClient
from station.lifecycle.handout_desk import HandoutDesk
from station.store import NewPerson, open_store
from station.store.handouts import HandoutState, tap_context
from station_emulator.entra import EntraEmulator
from station_emulator.entra.routes_admin import ADMIN_HEADER
from station_emulator.key import VirtualKey

KEYS = 3


@pytest.fixture
def emu(tmp_path: Path) -> Iterator[EntraEmulator]:
    with EntraEmulator(users=KEYS + 3, seed=9090, cert_dir=tmp_path / "certs") as e:
        yield e


class Subscriber:
    """A control-socket client that keeps every event line it is sent."""

    def __init__(self, path: Path) -> None:
        self.lines: list[bytes] = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(str(path))
        self.sock.sendall(b'{"v": 1, "cmd": "subscribe"}\n')
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        buffer = b""
        while chunk := self.sock.recv(65536):
            buffer += chunk
        self.lines = buffer.splitlines()

    def close(self) -> list[bytes]:
        self.thread.join(10)
        self.sock.close()
        return self.lines


def pem_body(pem: bytes) -> list[bytes]:
    """The base64 body of a PEM block, and the DER bytes it encodes."""
    body = b"".join(line for line in pem.splitlines() if line and not line.startswith(b"-----"))
    return [body[:64], base64.b64decode(body)]


def test_no_secret_in_logs_database_or_events(emu: EntraEmulator, tmp_path: Path) -> None:
    issued: list[str] = []
    original_issue = emu.tokens.issue

    def recording_issue(form: Any) -> dict[str, Any]:
        body = original_issue(form)
        issued.append(str(body.get("access_token", "")))
        return body

    emu.tokens.issue = recording_issue  # type: ignore[method-assign]
    cfg = station_config(emu, tmp_path, log_level="debug", show_pin=True, pin_length=12)
    config = write_toml(cfg, tmp_path / "station.toml")
    config.write_text(config.read_text() + "[delegation]\ncheck_every_minutes = 0.02\ntap_lifetime_minutes = 60\n")
    store = open_store(cfg.store_url, cfg.station.id)
    users = sorted(emu.tenant.users.values(), key=lambda u: u["userPrincipalName"])[:KEYS]
    handed = sorted(emu.tenant.users.values(), key=lambda u: u["userPrincipalName"])[KEYS:KEYS + 2]
    prepared_for = sorted(emu.tenant.users.values(), key=lambda u: u["userPrincipalName"])[KEYS + 2]
    store.queue.add_people(NewPerson(upn=u["userPrincipalName"], display_name=u["displayName"], object_id=u["id"],
                                     source="test") for u in users)
    cfg.delegation.tap_lifetime_minutes = 60
    with EntraClient.from_config(cfg) as client:  # the first key inserted is prepared for this hand-out
        HandoutDesk(store, client, cfg.delegation, cfg.enrolment.escrow_public_key, cfg.station.id).hand_out(
            prepared_for["userPrincipalName"], prepare_key=True)
    store.close()
    keys = tuple(tmp_path / f"key-{n}.json" for n in range(KEYS + 1))
    station = StationProcess(config, tmp_path / "station.log", keys=keys, delay=2.0)
    subscriber: Subscriber | None = None
    try:
        sock = cfg.station.runtime_dir / "control.sock"
        wait_until(sock.exists, 30, f"the control socket; log:\n{station.tail()}")
        subscriber = Subscriber(sock)
        wait_until(lambda: enrolled(cfg.store_url) == KEYS and handout_preparations(cfg.store_url) == ["prepared"],
                   60, f"{KEYS} enrolments and a key prepared; log:\n{station.tail()}")
        answers = [json.dumps(ControlClient(sock).command("handout", upn=u["userPrincipalName"])) for u in handed]
        private_key = load_private_key((tmp_path / "escrow" / "escrow-private.pem").read_bytes())
        taps = waiting_passes(cfg.store_url, private_key)
        assert sorted(taps) == sorted(u["userPrincipalName"] for u in [*handed, prepared_for])
        register_with_pass(emu, handed[0]["userPrincipalName"], taps[handed[0]["userPrincipalName"]])
        wait_until(lambda: handout_states(cfg.store_url) == ["handed_out", "active", "handed_out"], 30,
                   f"the daemon's check to settle the registered key; log:\n{station.tail()}")
        assert station.stop() == 0, station.tail()
    finally:
        station.ensure_gone()
    events = subscriber.close() if subscriber else []
    assert any(b"EnrolmentDone" in line or b"enrolment_done" in line for line in events), events[-5:]

    private_pem = (tmp_path / "escrow" / "escrow-private.pem").read_bytes()
    private = load_private_key(private_pem)
    store = open_store(cfg.store_url, cfg.station.id)
    try:
        rows = store.journal.with_escrow()
        pins = [open_sealed(private, r.pin_escrow or "", context_for(r.id)) for r in rows]
        ciphertexts = [(r.pin_escrow or "").encode() for r in rows]
        (prepared,) = [h for h in store.handouts.find() if h.pin_sealed]
        prepared_pin = open_sealed(private, prepared.pin_sealed or "", handout_pin_context(prepared.id))
        enrolled_keys = [k for k in (VirtualKey(state_path=k) for k in keys) if k.serial != prepared.key_serial]
        verdict = check(store, emu, enrolled_keys, private, cfg.enrolment.lease_seconds)
        assert verdict.ok and verdict.pins_proven == KEYS, verdict.violations
    finally:
        store.close()
    assert len(pins) == KEYS and issued and len(enrolled_keys) == KEYS

    secrets: dict[str, bytes] = {f"PIN of enrolment {r.id}": p.encode() for r, p in zip(rows, pins, strict=True)}
    secrets |= {f"TAP of hand-out {n}": tap.encode() for n, tap in enumerate(taps.values())}
    secrets["PIN of the prepared key"] = prepared_pin.encode()
    secrets |= {f"access token {n}": t.encode() for n, t in enumerate(issued)}
    secrets["client secret"] = emu.info.client_secret.encode()
    for name, pem in (("escrow private key", private_pem),
                      ("emulator TLS key", (tmp_path / "certs" / "entra-emulator-server.key").read_bytes())):
        body, der = pem_body(pem)
        secrets[f"{name} (PEM)"] = body
        secrets[f"{name} (DER)"] = der

    log = (tmp_path / "station.log").read_bytes()
    assert b"<7>" in log, "the daemon did not log at debug level"
    database = b"".join(p.read_bytes() for p in tmp_path.glob("station.db*"))
    for ciphertext in ciphertexts + sealed_passes(cfg.store_url):
        database = database.replace(ciphertext, b"\0" * len(ciphertext))
    stream = b"\n".join(events)
    places = {"the log": log, "the database": database, "the event stream": stream,
              "the hand-out answers": "\n".join(answers).encode()}
    found = [f"{name} in {place}" for name, value in secrets.items() for place, data in places.items()
             if value and value in data]
    assert not found, found
    shown = [json.loads(line) for line in events if b"PinShown" in line or b"pin_shown" in line]
    assert shown, "show_pin is on: the PIN events should have reached the subscriber (redacted)"


def enrolled(url: str) -> int:
    store = open_store(url, "observer")
    try:
        return store.queue.counts().get("enrolled", 0)
    finally:
        store.close()


def handout_states(url: str) -> list[str]:
    store = open_store(url, "observer")
    try:
        return [h.state for h in store.handouts.find()]
    finally:
        store.close()


def handout_preparations(url: str) -> list[str | None]:
    store = open_store(url, "observer")
    try:
        return [h.key_preparation for h in store.handouts.find()]
    finally:
        store.close()


def waiting_passes(url: str, private_key: Any) -> dict[str, str]:
    """The TAP of each waiting hand-out by UPN, opened with the escrow private key as 'station handout letters'
    does."""
    store = open_store(url, "observer")
    try:
        return {h.upn: open_sealed(private_key, h.tap_sealed or "", tap_context(h.id))
                for h in store.handouts.find(HandoutState.HANDED_OUT)}
    finally:
        store.close()


def sealed_passes(url: str) -> list[bytes]:
    store = open_store(url, "observer")
    try:
        return [sealed.encode() for h in store.handouts.find() for sealed in (h.tap_sealed, h.pin_sealed) if sealed]
    finally:
        store.close()


def register_with_pass(emu: EntraEmulator, upn: str, tap: str) -> None:
    """The person signs in with the pass at My Security Info and registers a passkey."""
    session = requests.Session()
    session.trust_env = False
    answer = session.post(f"{emu.info.graph_url}/_emulator/tap/register-passkey", verify=emu.info.ca_file,
                          timeout=30, headers={ADMIN_HEADER: emu.info.client_secret},
                          json={"upn": upn, "temporaryAccessPass": tap,
                                "aaGuid": "ee882879-721c-4913-9775-3dfcce97072a"})
    assert answer.status_code == 201, answer.text
