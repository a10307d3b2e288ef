"""One key's enrolment, on its own thread: a state machine over a write-ahead journal.

attached → inspected → claimed → options → PIN escrowed → PIN set → credential made → registering →
registered → done. Each step's outcome is journaled before the next side effect. ``cancel()`` (the key
was removed, or the operator cancelled the slot) sets the event every CTAP call carries, so python-fido2
sends CTAPHID CANCEL and the session ends in a terminal, explained state. Once the credential exists the
key is no longer needed: a removal then does not stop the registration, only the final key-side step.
A key that makes no progress (it keeps answering "processing") for longer than the touch timeout plus
``stall_margin`` while the session waits on it is cancelled the same way, and the session ends as
key_error: the key stopped answering.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum

from fido2.ctap import STATUS, CtapDevice, CtapError
from fido2.ctap2 import ClientPin, Ctap2
from fido2.hid import CAPABILITY
from fido2.utils import websafe_encode

from station.config import EnrolmentSection
from station.enroll import ceremony, cleanup, pin_protocol, pin_rules, policy, recognise, returned
from station.enroll.display_name import NameFacts, render_display_name
from station.enroll.escrow import context_for
from station.enroll.pin import effective_pin_length, generate_pin
from station.enroll.ports import (
    AuditPort,
    Clock,
    JournalPort,
    KeyRecord,
    Options,
    PasskeysPort,
    Person,
    QueuePort,
    Sealer,
    Step,
)
from station.enroll.prefetch import Prefetcher, user_key
from station.enroll.reasons import failure, from_ctap, malformed_answer, nobody_waiting, remedy_for
from station.enroll.reset import RESET_PROMPT, ResetBook
from station.errors import GraphError, GraphUncertainError, KeyOperationError, Reason, StationError, StoreError
from station.events import (
    EnrolmentDone,
    EnrolmentFailed,
    EventBus,
    KeyInspected,
    KeyRejected,
    PersonClaimed,
    PinShown,
    Registered,
    StatusNote,
    StepChanged,
    TouchRequired,
)
from station.hid.candidate import KeyCandidate
from station.keys.attestation import untrusted_attestation
from station.keys.catalogue import KeyCatalogue
from station.keys.serial import read_serial
from station.states import KeyState, PersonState

log = logging.getLogger(__name__)

REMOVAL_GRACE_SECONDS = 2.0
STALL_MARGIN_SECONDS = 15.0
STALL_POLL_SECONDS = 0.25
# Steps in which the session waits on the key (the others wait on the store or on Graph).
KEY_STEPS = frozenset({"attached", "inspecting", "resetting", "pin_escrowed", "pin_set", "touch", "finalising"})
STALLED_REMEDY = ("The key stopped answering (it kept saying it was busy). Remove it and insert it again; "
                  "if it happens again, set the key aside.")
PERSON_FAILURES = {Reason.USER_NOT_FOUND, Reason.GRAPH_DENIED}
# Failures of the station's surroundings, not of a person or key: they do not count towards max_attempts.
NOT_AN_ATTEMPT = frozenset({Reason.GRAPH_THROTTLED, Reason.GRAPH_UNAVAILABLE, Reason.GRAPH_UNCERTAIN,
                            Reason.AUTH_FAILED, Reason.STORE_UNAVAILABLE, Reason.RP_ID_MISMATCH})


# How long a key error waits for the removal event that usually explains it.
REMOVAL_GRACE_SECONDS = 1.0


class KeyHolds(Enum):
    """What this session has put on the key so far: decides the terminal state of a failure."""

    NOTHING = "nothing"
    MAYBE_PIN = "maybe_pin"
    PIN = "pin"
    CREDENTIAL = "credential"
    REGISTERED = "registered"


@dataclass
class SessionContext:
    """What every session shares, handed over by the engine."""

    policy: EnrolmentSection
    station_id: str
    station_name: str
    queue: QueuePort
    journal: JournalPort
    audit: AuditPort
    passkeys: PasskeysPort
    bus: EventBus
    escrow: Sealer | None
    prefetch: Prefetcher
    graph_gate: threading.Semaphore
    clock: Clock
    resets: ResetBook = field(default_factory=ResetBook)
    on_success: Callable[[CtapDevice], None] | None = None
    stall_margin: float = STALL_MARGIN_SECONDS
    models: KeyCatalogue = field(default_factory=KeyCatalogue.builtin)


class Session:
    def __init__(self, ctx: SessionContext, candidate: KeyCandidate, after: Session | None = None) -> None:
        self.ctx = ctx
        self.candidate = candidate
        self.after = after
        self.slot = candidate.slot
        self.cancel_event = threading.Event()
        self.removed = threading.Event()
        self.timed_out = threading.Event()
        self.stalled = threading.Event()
        self.finished = threading.Event()
        self._progress_at = time.monotonic()
        self.step = "attached"
        self.outcome = ""
        self.reason = ""
        self.model = ""
        self.person: Person | None = None
        self.enrolment_id: int | None = None
        self.started = time.time()
        self.holds = KeyHolds.NOTHING
        self._key_serial: str | None = None
        self._serial_read = False
        self._touch_timer: threading.Timer | None = None
        self._touch_announced = False
        self.thread = threading.Thread(target=self.run, name=f"enrol {candidate.slot}", daemon=True)

    # -- control --------------------------------------------------------------------------------
    def start(self) -> None:
        self.thread.start()

    def cancel(self, *, removed: bool) -> None:
        if removed:
            self.removed.set()
        self.cancel_event.set()

    @property
    def registering(self) -> bool:
        """Waiting for Graph to register the credential (the engine holds prefetches back meanwhile)."""
        return self.step == Step.REGISTERING and not self.finished.is_set()

    def snapshot(self) -> dict[str, object]:
        return {
            "slot": self.slot, "transport": self.candidate.transport, "fingerprint": self.candidate.fingerprint,
            "step": self.step, "model": self.model, "upn": self.person.upn if self.person else None,
            "enrolment_id": self.enrolment_id, "outcome": self.outcome, "reason": self.reason,
            "started": self.started,
        }

    # -- the flow -------------------------------------------------------------------------------
    def run(self) -> None:
        threading.Thread(target=self._watch_progress, name=f"watch {self.slot}", daemon=True).start()
        if self.after is not None:
            self.after.thread.join(REMOVAL_GRACE_SECONDS)
            self.after = None
        try:
            device = self._open()
            try:
                self._enrol(device)
            finally:
                device.close()
        except CtapError as e:
            self._fail(from_ctap(e, self.step))
        except StationError as e:
            self._fail(e)
        except Exception as e:
            malformed = malformed_answer(e, self.step)
            if malformed is not None:
                log.warning("the key in %s sent a malformed answer: %s", self.slot, malformed.message)
                self._fail(malformed)
                return
            log.exception("enrolment in %s failed unexpectedly", self.slot)
            self._fail(failure(Reason.KEY_ERROR if isinstance(e, OSError) else Reason.INTERNAL,
                               f"{self.step}: {type(e).__name__}: {e}"))
        finally:
            if self._touch_timer is not None:
                self._touch_timer.cancel()
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
            self._reject(failure(Reason.U2F_ONLY, f"{self.candidate.name or 'the key'} speaks U2F only"))
            return
        ctap = Ctap2(device)
        inspection = self._inspect(ctap)
        if inspection is None:
            return
        if inspection.pin_set:
            if self._enrolled_earlier(ctap, inspection):
                return
            record = returned.identify(ctap, self.ctx.journal.keys, self.ctx.journal, inspection.aaguid,
                                       self._serial(device))
            if record is not None and KeyState(record.state).holds_live_passkey:
                self._reject(returned.belongs_to(record))
                return
            if not self._reset_used_key(ctap, inspection, record):
                return
            ctap = Ctap2(device)
            inspection = self._inspect(ctap)
            if inspection is None:
                return
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
        self.ctx.journal.advance(
            eid, Step.CREDENTIAL_MADE,
            credential_id=websafe_encode(credential.credential_id),
            attestation_object=websafe_encode(credential.attestation_object),
            client_data_json=websafe_encode(credential.client_data_json),
            display_name=display_name,
        )
        self.holds = KeyHolds.CREDENTIAL
        self._audit("credential_made", model=inspection.model)
        try:
            method_id = self._register(person, display_name, credential, options)
        except StationError as e:
            if not isinstance(e, GraphUncertainError):
                self._delete_orphan(ctap, client_pin, pin, credential.credential_id)
            raise
        self.holds = KeyHolds.REGISTERED
        self.ctx.journal.advance(eid, Step.REGISTERED, method_id=method_id)
        self.ctx.bus.publish(Registered(slot=self.slot, enrolment_id=eid, upn=person.upn, method_id=method_id))
        self._audit("registered", method_id=method_id)
        rules = self._finalise(ctap, client_pin, pin)
        self._done(person, display_name, rules)
        self._signal_success(device)

    def _inspect(self, ctap: Ctap2) -> policy.Inspection | None:
        self._set_step("inspecting")
        inspection = policy.inspect(ctap.info, self.ctx.policy, self.ctx.models)
        self.model = inspection.model
        self.ctx.bus.publish(KeyInspected(slot=self.slot, model=inspection.model, aaguid=inspection.aaguid))
        if inspection.refusals:
            self._reject(inspection.refusals[0])
            return None
        return inspection

    def _enrolled_earlier(self, ctap: Ctap2, inspection: policy.Inspection) -> bool:
        """A key with a PIN that holds the credential of a recent enrolment (e.g. resolved after a restart) is
        done: the technician is told to remove it, not that it was used."""
        row = recognise.enrolled_earlier(ctap, self.ctx.journal, inspection.aaguid, self.ctx.clock.time())
        if row is None:
            return False
        person = self.ctx.queue.get_by_id(row.person_id)
        self._set_step(Step.DONE)
        self.outcome = "done"
        self.ctx.bus.publish(EnrolmentDone(slot=self.slot, enrolment_id=row.id, upn=person.upn if person else "",
                                           display_name=row.display_name or "",
                                           note=f"enrolled earlier (enrolment {row.id})"))
        log.info("the key in %s holds the passkey of enrolment %s: done earlier", self.slot, row.id)
        return True

    def _reset_used_key(self, ctap: Ctap2, inspection: policy.Inspection, record: KeyRecord | None) -> bool:
        """Reset a used key when policy allows and this is the asked-for re-insertion; else refuse it. A key the
        inventory knows (its passkey revoked) is marked ``returned``, and ``reset`` once reset."""
        if record is not None:
            self.ctx.journal.keys.mark(record.id, KeyState.RETURNED, only_from=(KeyState.REVOKED, KeyState.LOST))
        if self.ctx.policy.used_key != "reset":
            self._reject(failure(Reason.PIN_ALREADY_SET, f"{inspection.model} already has a PIN"))
            return False
        now = self.ctx.clock.time()
        if not self.ctx.resets.due(self.slot, inspection.aaguid, now):
            self.ctx.resets.expect(self.slot, inspection.aaguid, now)
            self._reject(StationError(f"{inspection.model} already has a PIN", reason=Reason.KEY_NEEDS_RESET,
                                      remedy=RESET_PROMPT, retryable=True))
            return False
        self._set_step("resetting")
        try:
            ctap.reset(event=self.cancel_event, on_keepalive=self._on_keepalive)
        except CtapError as e:
            self._reject(self._key_error(e, "reset"))
            return False
        finally:
            self._stop_touch_timer()
        if record is not None:
            self.ctx.journal.keys.mark(record.id, KeyState.RESET)
        self._audit("key_reset", model=inspection.model, aaguid=inspection.aaguid,
                    key=record.identity if record is not None else None)
        return True

    def _claim(self, device: CtapDevice, inspection: policy.Inspection) -> Person | None:
        self._set_step("claiming")
        pol = self.ctx.policy
        person = self.ctx.queue.claim_next(self.ctx.station_id, pol.lease_seconds, self._identities(device))
        if person is None:
            self._reject(nobody_waiting(self.ctx.queue.counts().get("queued", 0)))
            return None
        self.person = person
        row = self.ctx.journal.open(
            person.id, self.ctx.station_id, slot=self.slot, transport=self.candidate.transport,
            key_fingerprint=self.candidate.fingerprint, aaguid=inspection.aaguid, model=inspection.model,
            key_serial=self._serial(device), firmware=inspection.firmware,
            lease_expires=self.ctx.clock.time() + pol.lease_seconds,
        )
        self.enrolment_id = row.id
        self.ctx.bus.publish(PersonClaimed(slot=self.slot, enrolment_id=row.id, upn=person.upn,
                                           display_name=person.display_name))
        self._audit("claimed", slot=self.slot, model=inspection.model, aaguid=inspection.aaguid)
        return person

    def _options(self, person: Person) -> Options:
        self._set_step("options")
        options = self.ctx.prefetch.take(person)
        if options is None:
            options = self.ctx.prefetch.fetch(person)
        return options

    def _set_pin(self, ctap: Ctap2, client_pin: ClientPin) -> tuple[str, ClientPin]:
        if self.cancel_event.is_set():  # removed or cancelled before the key was changed: leave it blank
            raise self._key_error(CtapError(CtapError.ERR.KEEPALIVE_CANCEL), "setting the PIN")
        pol, info, eid = self.ctx.policy, ctap.info, self._eid()
        pin = generate_pin(effective_pin_length(pol.pin_length, pol.min_pin_length, info.min_pin_length,
                                                info.max_pin_length), pol.pin_alphabet)
        sealed = self.ctx.escrow.seal(pin, context_for(eid)) if self.ctx.escrow is not None else None
        self.ctx.journal.advance(eid, Step.PIN_ESCROWED, pin_escrow=sealed)
        self._set_step(Step.PIN_ESCROWED)
        if pol.show_pin:
            self.ctx.bus.publish(PinShown(slot=self.slot, enrolment_id=eid, pin=pin))
        self.holds = KeyHolds.MAYBE_PIN
        try:
            client_pin = pin_protocol.set_pin(ctap, client_pin, pin)
        except CtapError:
            self.holds = KeyHolds.NOTHING
            raise
        self.holds = KeyHolds.PIN
        self.ctx.journal.advance(eid, Step.PIN_SET)
        self._set_step(Step.PIN_SET)
        self._audit("pin_set", escrowed=sealed is not None, pin_protocol=client_pin.protocol.VERSION)
        return pin, client_pin

    def _make_credential(self, ctap: Ctap2, client_pin: ClientPin, pin: str,
                         request: ceremony.CredentialRequest) -> ceremony.NewCredential:
        self._set_step("touch")
        try:
            return ceremony.make_credential(
                ctap, client_pin, pin, request, enterprise_attestation=self.ctx.policy.enterprise_attestation,
                cancel=self.cancel_event, on_keepalive=self._on_keepalive)
        except CtapError as e:
            raise self._key_error(e, "makeCredential") from None
        finally:
            self._stop_touch_timer()

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
        eid, uid = self._eid(), user_key(person)
        self.ctx.journal.advance(eid, Step.REGISTERING)
        self._set_step(Step.REGISTERING)
        try:
            with self.ctx.graph_gate:
                return self.ctx.passkeys.register(uid, display_name, credential.credential_id,
                                                  credential.client_data_json, credential.attestation_object,
                                                  credential.client_extension_results)
        except GraphUncertainError:
            log.warning("registration for %s had an uncertain outcome; checking Entra ID", person.upn)
        try:
            with self.ctx.graph_gate:
                found = self.ctx.passkeys.find_method_for_credential(uid, credential.credential_id)
        except GraphError as e:
            raise GraphUncertainError(f"registration outcome unknown, and Entra ID could not be asked: {e.message}",
                                      remedy=remedy_for(Reason.GRAPH_UNCERTAIN)) from e
        if found is not None:
            return found
        if options.expired(datetime.now(UTC), timedelta(seconds=5)):
            raise failure(Reason.CHALLENGE_EXPIRED, "the registration's challenge expired before it was confirmed")
        with self.ctx.graph_gate:
            return self.ctx.passkeys.register(uid, display_name, credential.credential_id,
                                              credential.client_data_json, credential.attestation_object,
                                              credential.client_extension_results)

    def _finalise(self, ctap: Ctap2, client_pin: ClientPin, pin: str) -> pin_rules.PinRules:
        """Apply each PIN rule the key supports; the journal and the audit log say what was and was not."""
        rules = pin_rules.plan(ctap.info, self.ctx.policy)
        if rules.applies and self.cancel_event.is_set():
            self._note("warning", "the key was removed before its PIN policy was applied")
            rules = pin_rules.not_applied(rules, "the key was removed before its PIN rules were set")
        elif rules.applies:
            self._set_step("finalising")
            try:
                pin_rules.apply(ctap, client_pin, pin, rules)
            except Exception as e:
                if not isinstance(e, CtapError | OSError | ValueError) and malformed_answer(e, "finalising") is None:
                    raise
                log.warning("PIN policy not applied on the key in %s: %s", self.slot, e)
                self._note("warning", f"the passkey is registered but the key's PIN policy was not applied: {e}")
                self._audit("pin_policy_failed", error=str(e))
                rules = pin_rules.not_applied(rules, f"the key refused its PIN rules: {e}")
        self.ctx.journal.advance(self._eid(), pin_rules=rules.summary())
        self._audit("pin_rules", applied=rules.applied(), not_enforced=list(rules.not_enforced))
        return rules

    def _done(self, person: Person, display_name: str, rules: pin_rules.PinRules) -> None:
        eid = self._eid()
        self.ctx.journal.advance(eid, Step.DONE)
        self.ctx.queue.mark(person.id, PersonState.ENROLLED)
        self._set_step(Step.DONE)
        self.outcome = "done"
        self._audit("done", display_name=display_name)
        self.ctx.bus.publish(EnrolmentDone(slot=self.slot, enrolment_id=eid, upn=person.upn,
                                           display_name=display_name, note="; ".join(rules.not_enforced)))
        log.info("enrolment %s done in %s", eid, self.slot)

    def _signal_success(self, device: CtapDevice) -> None:
        """Hand the still-open key to the success hook (the station's feedback makes a USB key wink)."""
        hook = self.ctx.on_success
        if hook is None or self.removed.is_set():
            return
        try:
            hook(device)
        except Exception:
            log.warning("the success signal for the key in %s failed", self.slot, exc_info=True)

    # -- failure --------------------------------------------------------------------------------
    def _key_error(self, error: CtapError, doing: str) -> StationError:
        if error.code == CtapError.ERR.KEEPALIVE_CANCEL or self.cancel_event.is_set():
            if self.stalled.is_set():
                return self._stalled_error(doing)
            if self.timed_out.is_set():
                return failure(Reason.TOUCH_TIMEOUT, f"{doing}: the key was not touched in time")
            if self.removed.is_set():
                return failure(Reason.KEY_REMOVED, f"{doing}: the key was removed")
            return failure(Reason.KEY_REMOVED, f"{doing}: cancelled by the operator", retryable=True)
        return from_ctap(error, doing)

    def _stalled_error(self, doing: str) -> StationError:
        limit = self.ctx.policy.touch_timeout_seconds + self.ctx.stall_margin
        return KeyOperationError(f"{doing}: the key stopped answering (no progress for {limit:g} s)",
                                 reason=Reason.KEY_ERROR, remedy=STALLED_REMEDY, retryable=True)

    def _fail(self, error: StationError) -> None:
        if self.stalled.is_set() and error.reason in (Reason.KEY_ERROR, Reason.INTERNAL):
            error = self._stalled_error(self.step)
        if error.reason is Reason.KEY_ERROR and not self.removed.is_set():
            # An unplugged key fails the I/O at once; the watcher's removal event follows a moment later.
            self.removed.wait(REMOVAL_GRACE_SECONDS)
        if self.removed.is_set() and self.holds is not KeyHolds.REGISTERED and error.reason in (
                Reason.KEY_ERROR, Reason.INTERNAL):
            error = failure(Reason.KEY_REMOVED, f"{self.step}: the key was removed")
        if self.enrolment_id is None or self.person is None:
            self._reject(error)
            return
        self.outcome, self.reason = "failed", str(error.reason)
        try:
            if error.reason is Reason.GRAPH_UNCERTAIN:
                now = self.ctx.clock.time()
                # Due for reconciliation at once; the lease is handed back so that an operator may resolve it.
                self.ctx.journal.check_failed(self.enrolment_id, f"{error.reason}: {error.message}", now,
                                              station_id=self.ctx.station_id, lease_expires=now)
                self._set_step("uncertain")
                self._note("warning", f"enrolment {self.enrolment_id}: Entra's answer is unknown; "
                                      "it will be checked again before the person is retried")
            else:
                self._close_row(error)
        except StoreError as e:
            # The row stays as the journal has it; the running station settles it once the store takes writes.
            log.warning("enrolment %s: its failure could not be recorded: %s", self.enrolment_id, e.message)
        self.ctx.bus.publish(EnrolmentFailed(slot=self.slot, enrolment_id=self.enrolment_id, upn=self.person.upn,
                                             reason=str(error.reason), message=error.message,
                                             remedy=error.remedy, retryable=error.retryable))
        with contextlib.suppress(StoreError):
            self._audit("failed", reason=str(error.reason), message=error.message, key_holds=self.holds.value)
        log.warning("enrolment %s in %s failed: %s (%s)", self.enrolment_id, self.slot, error.message, error.reason)

    def _close_row(self, error: StationError) -> None:
        eid, person = self._eid(), self.person
        assert person is not None
        terminal = Step.FAILED if self.holds is KeyHolds.NOTHING else Step.NEEDS_RESET
        if self.holds is KeyHolds.REGISTERED:
            terminal = Step.DONE
        self.ctx.journal.advance(eid, terminal, error_reason=str(error.reason), error_message=error.message[:2000])
        self._set_step(terminal)
        if terminal is Step.DONE:
            self.ctx.queue.mark(person.id, PersonState.ENROLLED)
        elif error.reason in PERSON_FAILURES:
            self.ctx.queue.mark(person.id, PersonState.FAILED, note=f"{error.reason}: {error.message}")
        elif self._counts_as_attempt(error):
            self.ctx.queue.requeue_failed(person.id, self.ctx.station_id, f"{error.reason}: {error.message}",
                                          self.ctx.policy.max_attempts)
        else:
            self.ctx.queue.release(person.id, self.ctx.station_id, note=str(error.reason))

    def _counts_as_attempt(self, error: StationError) -> bool:
        """A failure uses up one of the person's attempts unless it says nothing about them or the key:
        Entra or the store could not be reached, or the operator or a shutdown cancelled the session."""
        cancelled_here = self.cancel_event.is_set() and not (
            self.removed.is_set() or self.timed_out.is_set() or self.stalled.is_set())
        return error.reason not in NOT_AN_ATTEMPT and not cancelled_here

    def _reject(self, error: StationError) -> None:
        self.outcome, self.reason = "rejected", str(error.reason)
        self._set_step("rejected")
        self.ctx.bus.publish(KeyRejected(slot=self.slot, reason=str(error.reason), message=error.message,
                                         remedy=error.remedy or remedy_for(error.reason)))
        try:
            self.ctx.audit.record("key_rejected", slot=self.slot, reason=str(error.reason), message=error.message)
        except StationError as e:  # e.g. the store is full: the refusal itself must still reach the technician
            log.warning("key in %s rejected; its audit entry was not written: %s", self.slot, e.message)
        log.info("key in %s rejected: %s", self.slot, error.message)

    def _delete_orphan(self, ctap: Ctap2, client_pin: ClientPin, pin: str, credential_id: bytes) -> None:
        if self.removed.is_set():
            return
        if cleanup.delete_orphan(ctap, client_pin, pin, credential_id):
            self._audit("orphan_deleted")

    # -- helpers --------------------------------------------------------------------------------
    def _on_keepalive(self, status: int) -> None:
        if status != STATUS.UPNEEDED or self._touch_announced:
            return
        self._touch_announced = True
        self.ctx.bus.publish(TouchRequired(slot=self.slot, enrolment_id=self.enrolment_id or 0))
        self._touch_timer = threading.Timer(self.ctx.policy.touch_timeout_seconds, self._touch_expired)
        self._touch_timer.daemon = True
        self._touch_timer.start()

    def _watch_progress(self) -> None:
        """Cancel the session when the key it waits on makes no progress for too long."""
        limit = self.ctx.policy.touch_timeout_seconds + self.ctx.stall_margin
        while not self.finished.wait(STALL_POLL_SECONDS):
            if self.step in KEY_STEPS and time.monotonic() - self._progress_at > limit:
                log.warning("the key in %s made no progress in %s for %g s; cancelling", self.slot, self.step, limit)
                self.stalled.set()
                self.cancel_event.set()
                return

    def _touch_expired(self) -> None:
        self.timed_out.set()
        self.cancel_event.set()

    def _stop_touch_timer(self) -> None:
        if self._touch_timer is not None:
            self._touch_timer.cancel()
            self._touch_timer = None
        self._touch_announced = False

    def _identities(self, device: CtapDevice) -> list[str]:
        ids = [self.candidate.fingerprint]
        serial = self._serial(device)
        if serial and serial not in ids:
            ids.append(serial)
        return ids

    def _serial(self, device: CtapDevice) -> str | None:
        """The serial printed on the key (or its USB serial), read once per session (station/keys/serial.py)."""
        if not self._serial_read:
            self._key_serial, self._serial_read = read_serial(device, self.model), True
        return self._key_serial

    def _display_name(self, device: CtapDevice, inspection: policy.Inspection, person: Person) -> str:
        facts = NameFacts(model=inspection.model, date=datetime.fromtimestamp(self.ctx.clock.time()).date().isoformat(),
                          station=self.ctx.station_name, serial=self._serial(device) or "", upn=person.upn,
                          name=person.display_name)
        return render_display_name(self.ctx.policy.display_name_template, facts)

    def _set_step(self, step: str) -> None:
        self.step = str(step)
        self._progress_at = time.monotonic()
        if self.enrolment_id is not None:
            self.ctx.bus.publish(StepChanged(slot=self.slot, enrolment_id=self.enrolment_id, step=self.step))

    def _note(self, level: str, message: str) -> None:
        self.ctx.bus.publish(StatusNote(level=level, message=f"{self.slot}: {message}", source="enrol"))

    def _audit(self, kind: str, **detail: object) -> None:
        self.ctx.audit.record(kind, person_id=self.person.id if self.person else None,
                              enrolment_id=self.enrolment_id, **detail)

    def _eid(self) -> int:
        assert self.enrolment_id is not None
        return self.enrolment_id

