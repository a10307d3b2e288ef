"""One key's enrolment, on its own thread: the driver that does the I/O of each step over a write-ahead journal.

attached → inspected → claimed → options → PIN escrowed → PIN set → credential made → registering →
registered → done (or, while a hand-out waits for its key here, reset and PIN set for it: prepare.py). Each
step's outcome is journaled before the next side effect. ``key_removed()`` and ``stop()`` (the operator, a
shutdown, a lost lease) set the event every CTAP call carries (interrupts.py), so python-fido2 sends CTAPHID
CANCEL and the session ends in a terminal, explained state. Once the credential
exists the key is no longer needed: a removal then does not stop the registration, only the final key-side
step. How a failure ends — terminal step, reason, queue action — is decided in transitions.py and recorded by
endings.py; registration with Entra ID is registration.py.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from datetime import datetime
from typing import Final

from fido2.ctap import CtapDevice, CtapError
from fido2.ctap2 import ClientPin, Ctap2
from fido2.hid import CAPABILITY
from fido2.utils import websafe_encode

from station.enroll import (
    ceremony,
    cleanup,
    endings,
    pin_protocol,
    pin_rules,
    policy,
    prepare,
    transitions,
    used_key,
)
from station.enroll.context import SessionContext
from station.enroll.display_name import NameFacts, render_display_name
from station.enroll.escrow import context_for
from station.enroll.interrupts import Interrupts
from station.enroll.key_answers import KeyCtap2
from station.enroll.pin import effective_pin_length, generate_pin
from station.enroll.ports import (
    Options,
    Person,
    Step,
)
from station.enroll.reasons import failure, from_ctap, nobody_waiting
from station.enroll.registration import register
from station.enroll.steps import SessionStep
from station.enroll.transitions import KeyHolds, StopCause
from station.errors import GraphUncertainError, Reason, StationError
from station.events import (
    EnrolmentDone,
    KeyInspected,
    PersonClaimed,
    PinShown,
    Registered,
    StatusNote,
    StepChanged,
    TouchRequired,
)
from station.hid.candidate import KeyCandidate
from station.hid.key_devices import MalformedAnswer
from station.keys.attestation import untrusted_attestation
from station.keys.serial import attested_serial, read_serial
from station.states import PersonState
from station.wire import SessionSnapshot

log = logging.getLogger(__name__)

# How long a re-inserted key waits for the session of its previous insertion to end: longer than that session
# may spend waiting for its own removal event (endings.REMOVAL_GRACE_SECONDS).
PREVIOUS_SESSION_WAIT_SECONDS: Final = 2.0


class Session:
    def __init__(self, ctx: SessionContext, candidate: KeyCandidate, after: Session | None = None) -> None:
        self.ctx = ctx
        self.candidate = candidate
        self.after = after
        self.slot = candidate.slot
        self.interrupts = Interrupts(candidate.slot, ctx.policy, ctx.stall_margin, self._touch_required)
        self.cancel_event = self.interrupts.cancel_event
        self.finished = threading.Event()
        self.step = SessionStep.ATTACHED
        self.outcome = ""
        self.reason = ""
        self.message = ""
        self.remedy = ""
        self.ended: float | None = None
        self.model = ""
        self.person: Person | None = None
        self.enrolment_id: int | None = None
        self.started = time.time()
        self.holds = KeyHolds.NOTHING
        self._key_serial: str | None = None
        self._serial_read = False
        self.thread = threading.Thread(target=self.run, name=f"enrol {candidate.slot}", daemon=True)

    # -- control --------------------------------------------------------------------------------
    def start(self) -> None:
        self.thread.start()

    def key_removed(self) -> None:
        self.interrupts.key_removed()

    def stop(self, cause: StopCause) -> None:
        """The station cancels this session (operator, shutdown, lost lease); it ends as operator_cancelled."""
        self.interrupts.stop(cause)

    def snapshot(self) -> SessionSnapshot:
        return {
            "slot": self.slot, "transport": self.candidate.transport, "fingerprint": self.candidate.fingerprint,
            "step": self.step.value, "model": self.model, "upn": self.person.upn if self.person else None,
            "display_name": self.person.display_name if self.person else None,
            "enrolment_id": self.enrolment_id, "outcome": self.outcome or None, "reason": self.reason or None,
            "message": self.message or None, "remedy": self.remedy or None,
            "started": self.started, "ended": self.ended,
        }

    # -- the flow -------------------------------------------------------------------------------
    def run(self) -> None:
        self.interrupts.watch(lambda: self.step, self.finished)
        if self.after is not None:
            self.after.thread.join(PREVIOUS_SESSION_WAIT_SECONDS)
            self.after = None
        try:
            device = self._open()
            try:
                self._enrol(device)
            finally:
                device.close()
        except CtapError as e:
            endings.fail(self, from_ctap(e, self.step))
        except MalformedAnswer as e:
            log.warning("the key in %s sent a malformed answer: %s", self.slot, e.message)
            endings.fail(self, e.during(self.step))
        except StationError as e:
            endings.fail(self, e)
        except Exception as e:
            log.exception("enrolment in %s failed unexpectedly", self.slot)
            endings.fail(self, transitions.unexpected(e, self.step))
        finally:
            self.interrupts.stop_touch_timer()
            self.finished.set()

    def _open(self) -> CtapDevice:
        try:
            return self.candidate.open()
        except StationError:
            raise
        except Exception as e:
            raise failure(Reason.KEY_ERROR, f"cannot open the key: {e}") from e

    def _enrol(self, device: CtapDevice) -> None:
        if not device.capabilities & CAPABILITY.CBOR:
            endings.reject(self, failure(Reason.U2F_ONLY, f"{self.candidate.name or 'the key'} speaks U2F only"))
            return
        ctap = KeyCtap2(device)
        inspection = self._inspect(ctap)
        if inspection is None:
            return
        handout = prepare.take(self, self.serial(device), inspection)
        if handout is not None:
            with prepare.holding(self, handout):
                if (blank := self._blank(device, ctap, inspection)) is not None:
                    prepare.give_pin(self, blank[0], handout, self.serial(device), blank[1])
            return
        if (blank := self._blank(device, ctap, inspection)) is None:
            return
        ctap, inspection = blank
        person = self._claim(device, inspection)
        if person is None:
            return
        options = self._options(person)
        request = ceremony.build_request(options, ctap, self.ctx.policy)
        pin, client_pin = self._set_pin(ctap, pin_protocol.client_pin_for(ctap))
        if self.ctx.policy.enterprise_attestation:
            ceremony.enable_enterprise_attestation(ctap, client_pin, pin)
        credential = self._make_credential(ctap, client_pin, pin, request)
        if self.ctx.policy.attestation == "verify":
            self._verify_attestation(ctap, client_pin, pin, inspection.aaguid, credential)
        display_name = self._display_name(device, inspection, person)
        eid = self._eid()
        attested = {}
        if self.ctx.policy.enterprise_attestation and not self.serial(device):
            self._key_serial = attested_serial(credential.attestation_object)
            attested = {"key_serial": self._key_serial} if self._key_serial else {}
        self.ctx.journal.advance(
            eid, Step.CREDENTIAL_MADE,
            credential_id=websafe_encode(credential.credential_id),
            attestation_object=websafe_encode(credential.attestation_object),
            client_data_json=websafe_encode(credential.client_data_json),
            display_name=display_name, audit=[("credential_made", {"model": inspection.model})], **attested,
        )
        self.holds = KeyHolds.CREDENTIAL
        try:
            method_id = self._register(person, display_name, credential, options)
        except StationError as e:
            if not isinstance(e, GraphUncertainError):
                self._delete_orphan(ctap, client_pin, pin, credential.credential_id)
            raise
        self.holds = KeyHolds.REGISTERED
        self.ctx.journal.advance(eid, Step.REGISTERED, method_id=method_id,
                                 audit=[("registered", {"method_id": method_id})])
        self.ctx.bus.publish(Registered(slot=self.slot, enrolment_id=eid, upn=person.upn, method_id=method_id))
        rules = self._finalise(ctap, client_pin, pin)
        self._done(person, display_name, rules)
        self._signal_success(device)

    def _blank(self, device: CtapDevice, ctap: KeyCtap2,
               inspection: policy.Inspection) -> tuple[KeyCtap2, policy.Inspection] | None:
        """The key without a PIN: as inserted, or reset when used and policy allows; None when the session ended."""
        if not inspection.pin_set:
            return ctap, inspection
        if not used_key.reset_or_refuse(self, ctap, device, inspection):
            return None
        ctap = KeyCtap2(device)
        again = self._inspect(ctap)
        return None if again is None else (ctap, again)

    def _inspect(self, ctap: Ctap2) -> policy.Inspection | None:
        self.set_step(SessionStep.INSPECTING)
        inspection = policy.inspect(ctap.info, self.ctx.policy, self.ctx.models)
        self.model = inspection.model
        self.ctx.bus.publish(KeyInspected(slot=self.slot, model=inspection.model, aaguid=inspection.aaguid))
        if inspection.refusals:
            endings.reject(self, inspection.refusals[0])
            return None
        return inspection

    def _claim(self, device: CtapDevice, inspection: policy.Inspection) -> Person | None:
        self.set_step(SessionStep.CLAIMING)
        pol = self.ctx.policy
        person = self.ctx.queue.claim_next(self.ctx.station_id, pol.lease_seconds, self._identities(device))
        if person is None:
            endings.reject(self, nobody_waiting(self.ctx.queue.counts().get("queued", 0)))
            return None
        self.person = person
        row = self.ctx.journal.open(
            person.id, self.ctx.station_id, slot=self.slot, transport=self.candidate.transport,
            key_fingerprint=self.candidate.fingerprint, aaguid=inspection.aaguid, model=inspection.model,
            key_serial=self.serial(device), firmware=inspection.firmware,
            lease_expires=self.ctx.clock.time() + pol.lease_seconds,
            audit=[("claimed", {"slot": self.slot, "model": inspection.model, "aaguid": inspection.aaguid})],
        )
        self.enrolment_id = row.id
        self.ctx.bus.publish(PersonClaimed(slot=self.slot, enrolment_id=row.id, upn=person.upn,
                                           display_name=person.display_name))
        return person

    def _options(self, person: Person) -> Options:
        self.set_step(SessionStep.OPTIONS)
        options = self.ctx.prefetch.take(person)
        if options is None:
            options = self.ctx.prefetch.fetch(person)
        return options

    def _set_pin(self, ctap: Ctap2, client_pin: ClientPin) -> tuple[str, ClientPin]:
        if self.cancel_event.is_set():  # removed or cancelled before the key was changed: leave it blank
            raise self.key_error(CtapError(CtapError.ERR.KEEPALIVE_CANCEL), "setting the PIN")
        pol, info, eid = self.ctx.policy, ctap.info, self._eid()
        pin = generate_pin(effective_pin_length(pol.pin_length, pol.min_pin_length, info.min_pin_length,
                                                info.max_pin_length), pol.pin_alphabet)
        sealed = self.ctx.escrow.seal(pin, context_for(eid)) if self.ctx.escrow is not None else None
        self.ctx.journal.advance(eid, Step.PIN_ESCROWED, pin_escrow=sealed)
        self.set_step(SessionStep.PIN_ESCROWED)
        if pol.show_pin:
            self.ctx.bus.publish(PinShown(slot=self.slot, enrolment_id=eid, pin=pin))
        self.holds = KeyHolds.MAYBE_PIN
        try:
            client_pin = pin_protocol.set_pin(ctap, client_pin, pin)
        except CtapError:
            self.holds = KeyHolds.NOTHING
            raise
        self.holds = KeyHolds.PIN
        self.ctx.journal.advance(eid, Step.PIN_SET, audit=[
            ("pin_set", {"escrowed": sealed is not None, "pin_protocol": client_pin.protocol.VERSION})])
        self.set_step(SessionStep.PIN_SET)
        return pin, client_pin

    def _make_credential(self, ctap: Ctap2, client_pin: ClientPin, pin: str,
                         request: ceremony.CredentialRequest) -> ceremony.NewCredential:
        self.set_step(SessionStep.TOUCH)
        try:
            return ceremony.make_credential(
                ctap, client_pin, pin, request, enterprise_attestation=self.ctx.policy.enterprise_attestation,
                cancel=self.cancel_event, on_keepalive=self.interrupts.on_keepalive)
        except CtapError as e:
            raise self.key_error(e, "makeCredential") from None
        finally:
            self.interrupts.stop_touch_timer()

    def _verify_attestation(self, ctap: Ctap2, client_pin: ClientPin, pin: str, aaguid: str,
                            credential: ceremony.NewCredential) -> None:
        """Refuse, before Graph sees it, a credential whose attestation FIDO's metadata does not vouch for
        (Entra would refuse it under attestation enforcement); the credential is deleted from the key."""
        why = untrusted_attestation(self.ctx.models, aaguid, credential.attestation_object,
                                    hashlib.sha256(credential.client_data_json).digest())
        if why is not None:
            self._delete_orphan(ctap, client_pin, pin, credential.credential_id)
            raise failure(Reason.ATTESTATION_UNTRUSTED, f"{self.model}: {why}")

    def _register(self, person: Person, display_name: str, credential: ceremony.NewCredential,
                  options: Options) -> str:
        self.ctx.journal.advance(self._eid(), Step.REGISTERING)
        self.set_step(SessionStep.REGISTERING)
        return register(self.ctx.passkeys, self.ctx.graph_gate, person, display_name, credential, options)

    def _finalise(self, ctap: Ctap2, client_pin: ClientPin, pin: str) -> pin_rules.PinRules:
        """Apply each PIN rule the key supports; what was and was not reaches the journal and the audit log with
        the enrolment's end (``_done``)."""
        rules = pin_rules.plan(ctap.info, self.ctx.policy)
        if rules.applies and self.cancel_event.is_set():
            why = transitions.interruption(self.interrupts.state())
            self.note("warning", f"{why} before its PIN policy was applied")
            rules = pin_rules.not_applied(rules, f"{why} before its PIN rules were set")
        elif rules.applies:
            self.set_step(SessionStep.FINALISING)
            try:
                pin_rules.apply(ctap, client_pin, pin, rules)
            except (CtapError, MalformedAnswer, OSError, ValueError) as e:
                log.warning("PIN policy not applied on the key in %s: %s", self.slot, e)
                self.note("warning", f"the passkey is registered but the key's PIN policy was not applied: {e}")
                self.audit("pin_policy_failed", error=str(e))
                rules = pin_rules.not_applied(rules, f"the key refused its PIN rules: {e}")
        return rules

    def _done(self, person: Person, display_name: str, rules: pin_rules.PinRules) -> None:
        eid = self._eid()
        self.ctx.journal.advance(eid, Step.DONE, pin_rules=rules.summary(), audit=[
            ("pin_rules", {"applied": rules.applied(), "not_enforced": list(rules.not_enforced)}),
            ("done", {"display_name": display_name})])
        self.ctx.queue.mark(person.id, PersonState.ENROLLED)
        endings.succeed(self)
        self.ctx.bus.publish(EnrolmentDone(slot=self.slot, enrolment_id=eid, upn=person.upn,
                                           display_name=display_name, note="; ".join(rules.not_enforced)))
        log.info("enrolment %s done in %s", eid, self.slot)

    def _signal_success(self, device: CtapDevice) -> None:
        """Hand the still-open key to the success hook (the station's feedback makes a USB key wink)."""
        hook = self.ctx.on_success
        if hook is None or self.interrupts.removed.is_set():
            return
        try:
            hook(device)
        except Exception:
            log.warning("the success signal for the key in %s failed", self.slot, exc_info=True)

    # -- failure --------------------------------------------------------------------------------
    def key_error(self, error: CtapError, doing: str) -> StationError:
        return transitions.key_error(error, doing, self.interrupts.state(), self.interrupts.stall_limit)

    def _delete_orphan(self, ctap: Ctap2, client_pin: ClientPin, pin: str, credential_id: bytes) -> None:
        if self.interrupts.removed.is_set():
            return
        if cleanup.delete_orphan(ctap, client_pin, pin, credential_id):
            self.audit("orphan_deleted")

    # -- helpers --------------------------------------------------------------------------------
    def _touch_required(self) -> None:
        self.ctx.bus.publish(TouchRequired(slot=self.slot, enrolment_id=self.enrolment_id or 0))

    def _identities(self, device: CtapDevice) -> list[str]:
        ids = [self.candidate.fingerprint]
        serial = self.serial(device)
        if serial and serial not in ids:
            ids.append(serial)
        return ids

    def serial(self, device: CtapDevice) -> str | None:
        """The serial printed on the key (or its USB serial), read once per session (station/keys/serial.py)."""
        if not self._serial_read:
            self._key_serial, self._serial_read = read_serial(device, self.model), True
        return self._key_serial

    def _display_name(self, device: CtapDevice, inspection: policy.Inspection, person: Person) -> str:
        facts = NameFacts(model=inspection.model, date=datetime.fromtimestamp(self.ctx.clock.time()).date().isoformat(),
                          station=self.ctx.station_name, serial=self.serial(device) or "", upn=person.upn,
                          name=person.display_name)
        return render_display_name(self.ctx.policy.display_name_template, facts)

    def set_step(self, step: SessionStep) -> None:
        self.step = step
        self.interrupts.progressed()
        if self.enrolment_id is not None:
            self.ctx.bus.publish(StepChanged(slot=self.slot, enrolment_id=self.enrolment_id, step=step.value))

    def note(self, level: str, message: str) -> None:
        self.ctx.bus.publish(StatusNote(level=level, message=f"{self.slot}: {message}", source="enrol"))

    def audit(self, kind: str, **detail: object) -> None:
        self.ctx.audit.record(kind, person_id=self.person.id if self.person else None,
                              enrolment_id=self.enrolment_id, **detail)

    def _eid(self) -> int:
        assert self.enrolment_id is not None
        return self.enrolment_id

