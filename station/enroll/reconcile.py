"""Start-up reconciliation: every unfinished journal row is resolved before new keys are taken.

* registered → done (the person is enrolled);
* credential made or registering → ask Entra whether a method was made from that credential id; if so,
  done; if not, register it from the journal (never a blind re-post: absence was checked first); if
  that fails for good, the key holds an orphan credential → needs reset, the person back in the queue;
* PIN escrowed or PIN set without a credential → needs reset, the escrowed PIN kept;
* claimed (nothing on the key) → abandoned, the person back in the queue.

A row whose Entra outcome cannot be learnt now stays as it is and is tried again later.
Rows of another station whose lease ran out more than ``takeover_grace`` seconds ago (a dead station: a
live one renews its leases) are taken over first; every row is claimed by compare-and-set on its lease
before it is resolved, so one station wins even when a restarted station and another race for its rows.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from fido2.utils import websafe_decode

from station.enroll.ports import AuditPort, Clock, JournalPort, PasskeysPort, QueuePort, Step
from station.enroll.prefetch import user_key
from station.enroll.reasons import remedy_for
from station.errors import GraphError, GraphUncertainError, Reason, StationError
from station.events import EventBus, StatusNote
from station.states import PersonState

log = logging.getLogger(__name__)

PERSON_FAILURES = {Reason.USER_NOT_FOUND, Reason.GRAPH_DENIED}
# Beyond an expired lease, before another station adopts the row: covers clock skew between stations
# and a station that is late renewing.
TAKEOVER_GRACE_SECONDS = 60.0


@dataclass
class ReconcileReport:
    resolved: dict[int, str] = field(default_factory=dict)
    unresolved: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"resolved": {str(k): v for k, v in self.resolved.items()}, "unresolved": list(self.unresolved)}


@dataclass
class Reconciler:
    station_id: str
    queue: QueuePort
    journal: JournalPort
    audit: AuditPort
    passkeys: PasskeysPort
    bus: EventBus
    clock: Clock
    graph_gate: threading.Semaphore
    lease_seconds: float
    takeover_grace: float = TAKEOVER_GRACE_SECONDS

    def run(self, skip: Iterable[int] = (), only: Iterable[Step] | None = None) -> ReconcileReport:
        """Resolve every unfinished row of this station (and stale rows of others), except ``skip``;
        with ``only``, just this station's rows in those states (a stale row of another station has no
        live session to race, so it is resolved whatever its state)."""
        report = ReconcileReport()
        skipped = set(skip)
        states = {s.value for s in only} if only is not None else None
        now = self.clock.time()
        for row in self.journal.unfinished(self.station_id, stale_before=now - self.takeover_grace):
            own = row.station_id == self.station_id
            if row.id in skipped or (own and states is not None and row.state not in states):
                continue
            if not self.journal.take_over(row.id, self.station_id, now + self.lease_seconds, row.lease_expires):
                continue
            try:
                outcome = self._resolve(row)
            except StationError as e:
                log.warning("enrolment %s stays unresolved: %s", row.id, e.message)
                report.unresolved.append(row.id)
                continue
            report.resolved[row.id] = outcome
            self.audit.record("reconciled", person_id=row.person_id, enrolment_id=row.id,
                              was=row.state, outcome=outcome)
        if report.resolved or report.unresolved:
            self.bus.publish(StatusNote(
                level="warning" if report.unresolved else "info", source="reconcile",
                message=f"reconciled {len(report.resolved)} unfinished enrolment(s)"
                        + (f", {len(report.unresolved)} still unresolved" if report.unresolved else "")))
        return report

    def _resolve(self, row: Any) -> str:
        state = Step(row.state)
        if state is Step.REGISTERED:
            return self._done(row)
        if state in (Step.CREDENTIAL_MADE, Step.REGISTERING):
            return self._settle_credential(row)
        if state in (Step.PIN_ESCROWED, Step.PIN_SET):
            self._close(row, Step.NEEDS_RESET, Reason.KEY_NEEDS_RESET,
                        "interrupted after the PIN step: the key may hold a PIN; its escrowed PIN is kept")
            return Step.NEEDS_RESET.value
        self._close(row, Step.ABANDONED, Reason.KEY_REMOVED, "interrupted before anything was put on the key")
        return Step.ABANDONED.value

    def _settle_credential(self, row: Any) -> str:
        person = self.queue.get_by_id(row.person_id)
        if person is None or not row.credential_id:
            self._close(row, Step.NEEDS_RESET, Reason.KEY_NEEDS_RESET, "the journal row lost its person or credential")
            return Step.NEEDS_RESET.value
        uid, credential_id = user_key(person), websafe_decode(row.credential_id)
        try:
            with self.graph_gate:
                method_id = self.passkeys.find_method_for_credential(uid, credential_id)
                if method_id is None:
                    method_id = self.passkeys.register(
                        uid, row.display_name or row.model or "Security key", credential_id,
                        websafe_decode(row.client_data_json or ""), websafe_decode(row.attestation_object or ""), {})
        except GraphError as e:
            if isinstance(e, GraphUncertainError) or (e.retryable and e.reason not in PERSON_FAILURES):
                raise
            self._close(row, Step.NEEDS_RESET, e.reason,
                        f"the credential on the key could not be registered ({e.message}); "
                        "the key holds an orphan credential and must be reset",
                        person_failed=e.reason in PERSON_FAILURES)
            return Step.NEEDS_RESET.value
        self.journal.advance(row.id, Step.REGISTERED, method_id=method_id)
        self.audit.record("registered", person_id=row.person_id, enrolment_id=row.id, method_id=method_id,
                          by="reconciliation")
        return self._done(row)

    def _done(self, row: Any) -> str:
        self.journal.advance(row.id, Step.DONE)
        self.queue.mark(row.person_id, PersonState.ENROLLED)
        self.audit.record("done", person_id=row.person_id, enrolment_id=row.id, display_name=row.display_name,
                          by="reconciliation")
        return Step.DONE.value

    def _close(self, row: Any, state: Step, reason: Reason, message: str, *, person_failed: bool = False) -> None:
        self.journal.advance(row.id, state, error_reason=str(reason), error_message=message)
        if person_failed:
            self.queue.mark(row.person_id, PersonState.FAILED, note=f"{reason}: {message}"[:1024])
        else:
            self.queue.release(row.person_id, note=f"reconciled: {state.value}")
        log.info("enrolment %s reconciled to %s: %s (%s)", row.id, state.value, message, remedy_for(reason))
