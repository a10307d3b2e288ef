"""The compatibility matrix: what Station does with each key model, over each transport, under each policy.

``run_cell`` enrols one person with a virtual key of one profile on a running station and reports the
outcome a technician sees: "enrolled, PIN change enforced", "enrolled, PIN change by letter" or
"refused: reason". An enrolled cell is only counted as one when the escrowed PIN opens the key (a forced
change refuses a token with PIN_POLICY_VIOLATION, never PIN_INVALID, and the PIN then changes; otherwise
the PIN gets a token) and the emulated tenant (attestation enforced) registered the passkey as attested.
``write_table`` turns the cells into the Markdown table that ``make docs`` copies into the README.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from enrol_harness import Station
from fido2.ctap import CtapDevice, CtapError
from fido2.ctap2 import ClientPin, Ctap2
from support.waiting import wait_idle

from station.enroll.escrow import context_for, open_sealed
from station.enroll.pin_protocol import client_pin_for
from station.events import EnrolmentDone, EnrolmentFailed, KeyRejected
from station_emulator.key import Finger, VirtualKey
from station_emulator.key.profiles import PROFILES

REPO = Path(__file__).resolve().parents[2]
TABLE = REPO / "build" / "compat-matrix.md"
RESULTS = REPO / "build" / "compat-matrix"
POLICIES: dict[str, dict[str, Any]] = {"default": {}, "require": {"pin_change": "require"}}
TRANSPORTS = ("usb", "nfc")
ENFORCED = "enrolled, PIN change enforced"
BY_LETTER = "enrolled, PIN change by letter"
# Models with authenticatorConfig (authnrCfg + setMinPINLength): the only ones that can force a PIN change.
CAN_FORCE = {"fido21", "yubikey5-5.7", "yubikey5-fips-5.7", "crescendo-v3", "token2-pinplus"}
NEW_PIN = "58203917"
CELL_TIMEOUT = 30.0


@dataclass(frozen=True)
class Cell:
    profile: str
    transport: str
    policy: str
    outcome: str
    detail: str = ""


def expected(profile: str, policy: str) -> str:
    if profile == "u2f":
        return "refused: u2f_only"
    if profile in CAN_FORCE:
        return ENFORCED
    return BY_LETTER if policy == "default" else "refused: feature_missing"


def run_cell(station: Station, profile: str, transport: str, policy: str,
             plug: Callable[[VirtualKey], Callable[[], None]], open_key: Callable[[], CtapDevice]) -> Cell:
    """Enrol the next queued person with a key of ``profile`` plugged in by ``plug`` (which returns the unplug)."""
    mark = len(station.events.events)
    unplug = plug(VirtualKey(profile, finger=Finger.after(0.05)))
    try:
        event = _terminal_event(station, mark)
        assert wait_idle(station.engine, 10), "the session did not end"
        if not isinstance(event, EnrolmentDone):
            return Cell(profile, transport, policy, f"refused: {event.reason}", event.remedy)
        return Cell(profile, transport, policy, *_prove(station, event.upn, open_key))
    finally:
        unplug()
        assert wait_idle(station.engine, 10)


def _terminal_event(station: Station, mark: int) -> EnrolmentDone | EnrolmentFailed | KeyRejected:
    deadline = time.monotonic() + CELL_TIMEOUT
    while time.monotonic() < deadline:
        for event in station.events.events[mark:]:
            if isinstance(event, EnrolmentDone | EnrolmentFailed | KeyRejected):
                return event
        time.sleep(0.02)
    raise AssertionError(f"no outcome in {CELL_TIMEOUT} s; saw {[e.kind for e in station.events.events[mark:]]}")


def _prove(station: Station, upn: str, open_key: Callable[[], CtapDevice]) -> tuple[str, str]:
    """The escrowed PIN opens the key, and the tenant verified the attestation; the cell's outcome."""
    (user,) = [u for u in station.emu.tenant.users.values() if u["userPrincipalName"] == upn]
    person = station.store.queue.get(upn)
    (row,) = [r for r in station.store.journal.for_person(person.id) if r.state == "done"]
    (method,) = station.emu.tenant.methods_of(user["id"])
    assert method.attestation_level == "attested", "the tenant did not verify the attestation"
    assert row.pin_escrow is not None
    pin = open_sealed(station.private_key(), row.pin_escrow, context_for(row.id))
    device = open_key()
    try:
        ctap = Ctap2(device)
        client_pin = client_pin_for(ctap)
        if ctap.info.force_pin_change:
            try:
                client_pin.get_pin_token(pin, ClientPin.PERMISSION.GET_ASSERTION, "login.microsoft.com")
                raise AssertionError("a forced PIN change let a token through")
            except CtapError as e:
                assert e.code == CtapError.ERR.PIN_POLICY_VIOLATION, f"the escrowed PIN is wrong: {e}"
            client_pin.change_pin(pin, NEW_PIN)
            assert client_pin.get_pin_token(NEW_PIN, ClientPin.PERMISSION.GET_ASSERTION, "login.microsoft.com")
            return ENFORCED, row.pin_rules or ""
        assert client_pin.get_pin_token(pin, ClientPin.PERMISSION.GET_ASSERTION, "login.microsoft.com")
        assert "cannot force a PIN change" in (row.pin_rules or ""), row.pin_rules
        return BY_LETTER, row.pin_rules or ""
    finally:
        device.close()


def save(cells: list[Cell], transport: str) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{transport}.json").write_text(json.dumps([asdict(c) for c in cells], indent=1))


def load(transport: str) -> list[Cell]:
    return [Cell(**c) for c in json.loads((RESULTS / f"{transport}.json").read_text())]


def write_table(cells: list[Cell]) -> str:
    """The README table: one row per profile, a column per transport and policy; refusals with their remedy."""
    by = {(c.profile, c.transport, c.policy): c for c in cells}
    columns = [(t, p) for t in TRANSPORTS for p in POLICIES]
    lines = ["| key profile | model | " + " | ".join(f"{t.upper()}, {p} policy" for t, p in columns) + " |",
             "|---|---|" + "---|" * len(columns)]
    remedies: dict[str, str] = {}
    for name, profile in PROFILES.items():
        row = [f"`{name}`", profile.product_name.strip()]
        for t, p in columns:
            cell = by.get((name, t, p))
            outcome = cell.outcome if cell else "not run"
            if cell and cell.outcome.startswith("refused") and cell.detail:
                remedies.setdefault(cell.outcome.removeprefix("refused: "), cell.detail)
            row.append(outcome)
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines += [f"- `{reason}`: {remedy}" for reason, remedy in sorted(remedies.items())]
    text = "\n".join(lines) + "\n"
    TABLE.parent.mkdir(parents=True, exist_ok=True)
    TABLE.write_text(text)
    return text
