"""Unresolved enrolments, as an operator sees and settles them.

An enrolment is unresolved while Entra ID could not tell whether its passkey was registered (a lookup
refused with 403 or 401, Graph unavailable, an answer lost): the person stays claimed and the station asks
again with backoff (``station.enroll.reconcile``). ``unresolved`` lists them for ``station status``, the
dashboard's status snapshot and ``station doctor``; ``resolve_person`` settles one person's unfinished rows
for ``station queue resolve`` — done when Entra holds the passkey, else requeued — and refuses, changing
nothing, while Entra ID cannot be asked.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from station.enroll.reconcile import Reconciler
from station.entra import Finding
from station.errors import InvalidStateError, StationError
from station.states import JournalState, PersonState
from station.store import Store
from station.unresolved_words import REMEDY, describe
from station.wire import UnresolvedEnrolment

# What the operator's own resolution calls itself while it holds a row (a row's station id is at most 64).
RESOLVER_PREFIX = "resolve@"
DOCTOR_SHOWN = 5


def unresolved(store: Store) -> list[UnresolvedEnrolment]:
    """Every unfinished enrolment whose Entra outcome is not known yet, of every station sharing the store."""
    items: list[UnresolvedEnrolment] = []
    for row in store.journal.unresolved_rows():
        person = store.queue.get_by_id(row.person_id)
        items.append({"enrolment_id": row.id, "upn": person.upn if person else None, "station": row.station_id,
                      "state": row.state, "why": row.unresolved, "checks": row.checks,
                      "next_check_at": row.next_check_at})
    return items


def doctor_finding(store: Store) -> Finding:
    """``station doctor``'s line on unresolved enrolments (FAIL while there is any)."""
    items = unresolved(store)
    if not items:
        return Finding("enrolments", True, "none unresolved")
    shown = "; ".join(describe(i) for i in items[:DOCTOR_SHOWN])
    more = f"; … and {len(items) - DOCTOR_SHOWN} more" if len(items) > DOCTOR_SHOWN else ""
    return Finding("enrolments", False, f"{len(items)} unresolved: {shown}{more}", REMEDY)


def resolve_person(store: Store, reconciler: Reconciler, upn: str, preflight: Callable[[], object]) -> list[str]:
    """Settle ``upn``'s unfinished enrolments from what Entra ID says; one line per outcome.

    A person claimed by a station that left no unfinished row (it stopped before writing one) and whose
    lease ran out is put back in the queue. ``preflight`` (getting a token) runs before any row is touched.
    Raises InvalidStateError when there is nothing to resolve or a station works on the person right now,
    and a StationError naming the cause, with nothing changed, when Entra ID cannot be asked."""
    person = store.queue.get(upn)
    rows = [r for r in store.journal.for_person(person.id) if not JournalState(r.state).terminal]
    if not rows:
        return [_release_orphaned_claim(store, person)]
    try:
        preflight()
    except StationError as e:
        raise StationError(f"Entra ID cannot be asked about {person.upn} ({e.reason}: {e.message}); nothing was "
                           "changed", reason=e.reason, remedy=e.remedy) from None
    owner = (RESOLVER_PREFIX + reconciler.station_id)[:64]
    lines = []
    for row in rows:
        try:
            outcome = reconciler.resolve_now(row, owner)
        except InvalidStateError:
            raise
        except StationError as e:
            raise StationError(
                f"Entra ID cannot be asked about enrolment {row.id} of {person.upn} ({e.reason}: {e.message}); "
                "it stays unresolved and nothing else was changed", reason=e.reason, remedy=e.remedy) from None
        after = store.queue.get(person.upn)
        lines.append(f"enrolment {row.id}: {outcome} — {person.upn} is {after.state}"
                     + (" (the key must be reset before it is used again)" if outcome == "needs_reset" else ""))
    return lines


def _release_orphaned_claim(store: Store, person: Any) -> str:
    if person.state != PersonState.CLAIMED.value:
        raise InvalidStateError(f"{person.upn} is {person.state}: no enrolment of theirs is unfinished",
                                remedy="Nothing to resolve; see 'station queue show UPN'.")
    if person.lease_expires is not None and person.lease_expires > time.time():
        raise InvalidStateError(f"{person.upn} is being enrolled at station {person.lease_station} right now",
                                remedy="Let that enrolment end, or cancel its slot on that station.")
    store.queue.release(person.id, note="released by operator: the claiming station left no enrolment")
    return f"{person.upn} was claimed by {person.lease_station}, which left no enrolment: queued again"
