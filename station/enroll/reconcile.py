"""Reconciliation: every unfinished journal row is resolved from what Entra ID says, never from a guess.

* registered → done (the person is enrolled);
* credential made or registering → ask Entra whether a method was made from that credential id; if so,
  done; if Entra answers that there is none, register it from the journal (never a blind re-post: absence
  was checked first); if Entra refuses that registration for good (an expired challenge included), the key
  holds an orphan credential → needs reset, the person back in the queue;
* PIN escrowed or PIN set without a credential → needs reset, the escrowed PIN kept;
* claimed (nothing on the key) → abandoned, the person back in the queue.

Only a definitive answer settles a row. When the lookup fails in any way (403, 401, 5xx, a timeout) or the
registration's own outcome is unknown, the row stays unresolved: the reason, the number of failed checks
and the time of the next check are written to it (backoff from ``RECHECK_BASE_SECONDS`` doubling up to
``RECHECK_CAP_SECONDS``), its lease is handed back, and the person stays claimed — nothing is concluded
until Entra can be asked. ``resolve_now`` is the operator's ``station queue resolve``: one row, at once.

Rows of another station whose lease ran out more than ``takeover_grace`` seconds ago (a dead station: a
live one renews its leases) are taken over first; every row is claimed by compare-and-set on its lease
before it is resolved, so one station wins even when a restarted station and another race for its rows.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from station.enroll.graph_gate import GraphGate
from station.enroll.ports import AuditPort, Clock, JournalPort, PasskeysPort, QueuePort, Step
from station.enroll.prefetch import user_key
from station.enroll.reasons import remedy_for
from station.errors import GraphError, GraphUncertainError, InvalidStateError, Reason, StationError
from station.events import EventBus, StatusNote
from station.states import PersonState

log = logging.getLogger(__name__)

PERSON_FAILURES = {Reason.USER_NOT_FOUND, Reason.GRAPH_DENIED}
# Beyond an expired lease, before another station adopts the row: covers clock skew between stations
# and a station that is late renewing.
TAKEOVER_GRACE_SECONDS = 60.0
# A row Entra could not settle is checked again after 30 s, 1, 2, 4 … minutes, at most every 15 minutes.
RECHECK_BASE_SECONDS = 30.0
RECHECK_CAP_SECONDS = 900.0
# Refusals of a registration that say nothing about the credential: the station cannot talk to Entra now.
STATION_PROBLEMS = {Reason.AUTH_FAILED, Reason.GRAPH_THROTTLED, Reason.GRAPH_UNAVAILABLE}


def recheck_delay(checks: int) -> float:
    """Seconds until the next check of a row that failed ``checks`` checks (1 or more)."""
    return min(RECHECK_BASE_SECONDS * 2 ** max(0, checks - 1), RECHECK_CAP_SECONDS)


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
    graph_gate: GraphGate
    lease_seconds: float
    takeover_grace: float = TAKEOVER_GRACE_SECONDS

    def run(self, skip: Iterable[int] = (), only: Iterable[Step] | None = None, *, ended: Iterable[int] = (),
            due_only: bool = True) -> ReconcileReport:
        """Resolve every unfinished row of this station (and stale rows of others), except ``skip``;
        with ``only``, just this station's rows in those states, and those in ``ended`` (rows whose session
        has ended, whatever their state; a stale row of another station has no live session to race, so it
        is resolved whatever its state). A row that failed a check waits for its next check time unless
        ``due_only`` is False. A store that cannot be written ends the pass: the rows stay for the next."""
        report = ReconcileReport()
        skipped, settle = set(skip), set(ended)
        states = {s.value for s in only} if only is not None else None
        now = self.clock.time()
        for row in self.journal.unfinished(self.station_id, stale_before=now - self.takeover_grace):
            own = row.station_id == self.station_id
            if row.id in skipped or (own and states is not None and row.state not in states
                                     and row.id not in settle):
                continue
            if due_only and row.next_check_at is not None and row.next_check_at > now:
                report.unresolved.append(row.id)
                continue
            try:
                taken = self.journal.take_over(row.id, self.station_id, now + self.lease_seconds,
                                               row.lease_expires)
            except StationError as e:
                log.warning("reconciliation stops until the store takes writes again: %s", e.message)
                report.unresolved.append(row.id)
                break
            if not taken:
                continue
            try:
                report.resolved[row.id] = self._settle(row)
            except StationError as e:
                self._unresolved(row, e, owner=self.station_id)
                report.unresolved.append(row.id)
        if report.resolved or report.unresolved:
            self.bus.publish(StatusNote(
                level="warning" if report.unresolved else "info", source="reconcile",
                message=f"reconciled {len(report.resolved)} unfinished enrolment(s)"
                        + (f", {len(report.unresolved)} still unresolved: Entra ID could not tell their outcome"
                           if report.unresolved else "")))
        return report

    def resolve_now(self, row: Any, owner: str) -> str:
        """Settle one row at an operator's request, taking it as ``owner`` for the while.

        Refused (InvalidStateError) while a station works on the row (its lease lives); when Entra cannot be
        asked, the row goes back to its station unresolved and the error is raised: nothing is concluded."""
        now = self.clock.time()
        until = time.strftime("%H:%M:%S", time.localtime(row.lease_expires or now))
        busy = InvalidStateError(
            f"enrolment {row.id} is held by station {row.station_id} until {until} (it is working on it, or "
            "stopped without finishing)",
            remedy="Try again after that time, or start that station again: a starting station settles its own "
                   "unfinished enrolments first.")
        if row.lease_expires is not None and row.lease_expires > now:
            raise busy
        if not self.journal.take_over(row.id, owner, now + self.lease_seconds, row.lease_expires):
            raise busy
        try:
            return self._settle(row, by="operator")
        except StationError as e:
            self._unresolved(row, e, owner=row.station_id)
            raise

    def _settle(self, row: Any, by: str = "reconciliation") -> str:
        outcome = self._resolve(row)
        self.audit.record("reconciled", person_id=row.person_id, enrolment_id=row.id, was=row.state,
                          outcome=outcome, by=by)
        return outcome

    def _unresolved(self, row: Any, error: StationError, *, owner: str) -> None:
        """Keep the row as it is, note why, and hand its lease back until the next check is due (when even
        that cannot be written, the row stays as it was and is checked again next time)."""
        checks = row.checks + 1
        now = self.clock.time()
        try:
            self.journal.check_failed(row.id, f"{error.reason}: {error.message}", now + recheck_delay(checks),
                                      station_id=owner, lease_expires=now)
        except StationError as e:
            log.warning("enrolment %s stays unresolved; recording why failed too: %s", row.id, e.message)
            return
        log.warning("enrolment %s stays unresolved (check %d failed, next in %.0f s): %s", row.id, checks,
                    recheck_delay(checks), error.message)

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
        from fido2.utils import websafe_decode  # python-fido2 loads cryptography: not in an idle daemon

        person = self.queue.get_by_id(row.person_id)
        if person is None or not row.credential_id:
            self._close(row, Step.NEEDS_RESET, Reason.KEY_NEEDS_RESET, "the journal row lost its person or credential")
            return Step.NEEDS_RESET.value
        uid, credential_id = user_key(person), websafe_decode(row.credential_id)
        with self.graph_gate:
            try:
                # A failed lookup leaves the row unresolved (raised): only Entra's answer "none" allows a POST.
                method_id = self.passkeys.find_method_for_credential(uid, credential_id)
            except GraphError as e:
                if e.reason is not Reason.USER_NOT_FOUND:
                    raise
                self._close(row, Step.NEEDS_RESET, e.reason, f"the person is gone from Entra ID ({e.message}); "
                            "the key holds an orphan credential and must be reset", person_failed=True)
                return Step.NEEDS_RESET.value
            if method_id is None:
                method_id = self._register_from_journal(row, uid, credential_id)
        if method_id is None:
            return Step.NEEDS_RESET.value
        self.journal.advance(row.id, Step.REGISTERED, method_id=method_id)
        self.audit.record("registered", person_id=row.person_id, enrolment_id=row.id, method_id=method_id,
                          by="reconciliation")
        return self._done(row)

    def _register_from_journal(self, row: Any, uid: str, credential_id: bytes) -> str | None:
        """POST the journaled credential (Entra said it has none); None when Entra refused it for good and
        the row was closed. An unknown outcome, or a refusal that is the station's (no token, throttled,
        unavailable), is raised: the row stays unresolved."""
        from fido2.utils import websafe_decode

        try:
            return self.passkeys.register(
                uid, row.display_name or row.model or "Security key", credential_id,
                websafe_decode(row.client_data_json or ""), websafe_decode(row.attestation_object or ""), {})
        except GraphError as e:
            if isinstance(e, GraphUncertainError) or e.reason in STATION_PROBLEMS:
                raise
            self._close(row, Step.NEEDS_RESET, e.reason,
                        f"the credential on the key could not be registered ({e.message}); "
                        "the key holds an orphan credential and must be reset",
                        person_failed=e.reason in PERSON_FAILURES)
            return None

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
