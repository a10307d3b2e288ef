"""What must hold after any fault: the invariant checker of the fault matrix.

Given the station's store, the Entra emulator, the keys (as they stand after the fault) and the escrow
private key, ``check`` proves — or lists what breaks:

* every passkey Entra holds for a queued person was made from a credential the journal records for that same
  person, and on a key the journal names (people whose key was handed out register their passkey themselves:
  theirs are left out);
* nobody has two station-made passkeys;
* every journal row is terminal, and no person stays claimed once leases have expired; a person is enrolled
  exactly when Entra holds their passkey;
* every key with a PIN holds the PIN escrowed in the journal (opened with the escrow private key, then proven
  on the key over CTAP: the key accepts it — a token, or PIN_POLICY_VIOLATION when a PIN change is forced —
  and its retry counter is unchanged afterwards);
* no credential is left on a key that Entra does not know, unless the journal sends that key to be reset;
* the audit log holds every step each journal row went through (a crash may lose only the audit line of the
  step it interrupted, and then the reconciliation line names that step);
* liveness, once the fault has cleared and the station settled: every queued person ends enrolled (with
  the one passkey above), nobody failed, skipped or lost from the store.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from fido2.ctap import CtapError
from fido2.ctap2 import ClientPin, Ctap2
from fido2.utils import websafe_decode

from station.enroll.escrow import context_for, open_sealed
from station.store import Store
from station.store.journal import JournalRow
from station.store.models import JournalState
from station_emulator.entra import EntraEmulator
from station_emulator.key import VirtualKey
from station_emulator.key.ctaphid import open_virtual_device

# The audit kind that proves each journal step was recorded.
STEP_AUDIT = {
    JournalState.CLAIMED: "claimed",
    JournalState.PIN_SET: "pin_set",
    JournalState.CREDENTIAL_MADE: "credential_made",
    JournalState.REGISTERED: "registered",
    JournalState.DONE: "done",
}
ORDER = [JournalState.CLAIMED, JournalState.PIN_ESCROWED, JournalState.PIN_SET, JournalState.CREDENTIAL_MADE,
         JournalState.REGISTERING, JournalState.REGISTERED, JournalState.DONE]


@dataclass
class Verdict:
    violations: list[str] = field(default_factory=list)
    rows: list[JournalRow] = field(default_factory=list)
    passkeys: int = 0
    pins_proven: int = 0
    orphans_for_reset: int = 0

    @property
    def ok(self) -> bool:
        return not self.violations

    def outcome(self) -> str:
        """One cell of the matrix: final journal states, passkeys, proven PINs, orphans left for a reset."""
        states = "+".join(r.state for r in self.rows) or "no row"
        text = f"{states}; passkeys {self.passkeys}; PINs proven {self.pins_proven}"
        if self.orphans_for_reset:
            text += f"; orphan on key (reset asked) {self.orphans_for_reset}"
        return text if self.ok else f"VIOLATED: {'; '.join(self.violations)}"


def check(store: Store, emu: EntraEmulator, keys: Iterable[VirtualKey], private_key: Any,
          lease_seconds: float, expected_people: Iterable[str] = ()) -> Verdict:
    """The invariants; ``expected_people`` (UPNs) must each end enrolled."""
    v = Verdict()
    people = store.queue.list()
    by_id = {p.id: p for p in people}
    rows = [r for p in people for r in store.journal.for_person(p.id)]
    v.rows = rows
    key_list = list(keys)
    _rows_terminal(v, rows)
    delegated = self_registering(store)
    _passkeys(v, emu, [p for p in people if p.id not in delegated], rows, key_list)
    _leases(v, store, by_id, rows, emu, lease_seconds)
    for key in key_list:
        _pin_escrowed(v, key, rows, private_key)
        _no_orphan(v, key, rows, emu)
    _audit(v, store, rows)
    _everyone_enrolled(v, store, expected_people)
    return v


def self_registering(store: Store) -> set[int]:
    """The people a key was handed out to: they register it themselves, with a Temporary Access Pass."""
    return {h.person_id for h in store.handouts.find()}


def _everyone_enrolled(v: Verdict, store: Store, upns: Iterable[str]) -> None:
    states = {p.upn: p for p in store.queue.list()}
    for upn in upns:
        person = states.get(upn.lower())
        if person is None:
            v.violations.append(f"{upn} is gone from the store")
        elif person.state != "enrolled":
            v.violations.append(f"{upn} ends {person.state}, not enrolled" + (f" ({person.note})" if person.note
                                                                             else ""))


def _rows_terminal(v: Verdict, rows: list[JournalRow]) -> None:
    for r in rows:
        if not JournalState(r.state).terminal:
            v.violations.append(f"enrolment {r.id} left unfinished in {r.state}")


def _passkeys(v: Verdict, emu: EntraEmulator, people: list[Any], rows: list[JournalRow],
              keys: list[VirtualKey]) -> None:
    journal_creds = {websafe_decode(r.credential_id): r for r in rows if r.credential_id}
    on_keys = {c.credential_id: f"virtual-{k.serial}" for k in keys for c in k.state.residents}
    for person in people:
        methods = emu.tenant.methods_of(person.object_id) if person.object_id else []
        v.passkeys += len(methods)
        if len(methods) > 1:
            v.violations.append(f"{person.upn} has {len(methods)} passkeys")
        for m in methods:
            row = journal_creds.get(m.credential_id)
            if row is None:
                v.violations.append(f"passkey {m.id} of {person.upn} matches no journal credential")
                continue
            if row.person_id != person.id:
                v.violations.append(f"passkey {m.id} belongs to {person.upn}, the journal says person {row.person_id}")
            holder = on_keys.get(m.credential_id)
            if holder is not None and holder != row.key_fingerprint:
                v.violations.append(f"passkey {m.id} is on {holder}, the journal says {row.key_fingerprint}")


def _leases(v: Verdict, store: Store, by_id: dict[int, Any], rows: list[JournalRow], emu: EntraEmulator,
            lease_seconds: float) -> None:
    store.queue.expire_stale_leases(at=time.time() + lease_seconds + 1)
    delegated = self_registering(store)
    for person in store.queue.list():
        if person.id in delegated:
            continue
        has_passkey = bool(person.object_id and emu.tenant.methods_of(person.object_id))
        if person.state == "claimed":
            v.violations.append(f"{person.upn} stays claimed after its lease expired")
        if has_passkey and person.state != "enrolled":
            v.violations.append(f"{person.upn} has a passkey but is {person.state}")
        if person.state == "enrolled" and not has_passkey:
            v.violations.append(f"{person.upn} is enrolled without a passkey in Entra ID")
        done = [r for r in rows if r.person_id == person.id and r.state == JournalState.DONE.value]
        if person.state == "enrolled" and not done:
            v.violations.append(f"{person.upn} is enrolled without a finished journal row")


def _pin_escrowed(v: Verdict, key: VirtualKey, rows: list[JournalRow], private_key: Any) -> None:
    if not key.state.pin_set:
        return
    fingerprint = f"virtual-{key.serial}"
    sealed = [r for r in rows if r.key_fingerprint == fingerprint and r.pin_escrow]
    if not sealed:
        v.violations.append(f"{fingerprint} has a PIN and no escrowed PIN")
        return
    row = sealed[-1]
    pin = open_sealed(private_key, row.pin_escrow or "", context_for(row.id))
    if hashlib.sha256(pin.encode()).digest()[:16] != key.state.pin_hash:
        v.violations.append(f"{fingerprint}: the escrowed PIN of enrolment {row.id} is not the key's PIN")
        return
    key.power_cycle()
    device = open_virtual_device(key)
    try:
        client_pin = ClientPin(Ctap2(device))
        before = client_pin.get_pin_retries()[0]
        try:
            client_pin.get_pin_token(pin)
        except CtapError as e:
            if e.code != CtapError.ERR.PIN_POLICY_VIOLATION:
                v.violations.append(f"{fingerprint} refuses its escrowed PIN: {e.code.name}")
                return
        if client_pin.get_pin_retries()[0] != before:
            v.violations.append(f"{fingerprint}: proving the escrowed PIN cost a retry")
            return
    finally:
        device.close()
    v.pins_proven += 1


def _no_orphan(v: Verdict, key: VirtualKey, rows: list[JournalRow], emu: EntraEmulator) -> None:
    fingerprint = f"virtual-{key.serial}"
    mine = [r for r in rows if r.key_fingerprint == fingerprint]
    for resident in key.state.residents:
        if emu.tenant.method_with_credential(resident.credential_id) is not None:
            continue
        if mine and mine[-1].state == JournalState.NEEDS_RESET.value:
            v.orphans_for_reset += 1
            continue
        v.violations.append(f"{fingerprint} holds an orphan credential and the journal does not ask for a reset")


def _audit(v: Verdict, store: Store, rows: list[JournalRow]) -> None:
    for r in rows:
        entries = store.audit.entries(enrolment_id=r.id)
        kinds = {e.kind for e in entries}
        crashed_at = {str(e.detail.get("was")) for e in entries if e.kind == "reconciled"}
        for step in _steps_reached(r):
            want = STEP_AUDIT.get(step)
            if want and want not in kinds and step.value not in crashed_at:
                v.violations.append(f"enrolment {r.id}: no '{want}' in the audit log")
        if r.state in (JournalState.FAILED.value, JournalState.NEEDS_RESET.value, JournalState.ABANDONED.value) \
                and not kinds & {"failed", "reconciled"}:
            v.violations.append(f"enrolment {r.id} ended {r.state} with no failure in the audit log")


def _steps_reached(r: JournalRow) -> list[JournalState]:
    """The steps a row provably went through, from what it holds."""
    reached = [JournalState.CLAIMED]
    if r.state == JournalState.DONE.value and r.method_id:
        return ORDER
    if r.method_id:
        reached += [JournalState.PIN_SET, JournalState.CREDENTIAL_MADE, JournalState.REGISTERED]
    elif r.credential_id:
        reached += [JournalState.PIN_SET, JournalState.CREDENTIAL_MADE]
    return reached
