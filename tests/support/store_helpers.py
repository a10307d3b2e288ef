"""Store operations only tests need: pre-assign a key to a person, claim one given person, the latest journal
rows. They go through the store's engine (or its public operations) like the product's own."""

from __future__ import annotations

import time

from sqlalchemy import text

from station.store import JournalRow, NewPerson, PersonState, PersonView
from station.store.journal import Journal
from station.store.queue import Queue

_PERSON_COLUMNS = ", ".join(PersonView.__dataclass_fields__)
_JOURNAL_COLUMNS = ", ".join(JournalRow.__dataclass_fields__)
_CLAIM = text("UPDATE person SET state = :claimed, lease_station = :station, lease_expires = :expires, "
              "attempts = attempts + 1, updated_at = :at WHERE id = :id AND state = :queued "
              f"RETURNING {_PERSON_COLUMNS}")
_RECENT = text(f"SELECT {_JOURNAL_COLUMNS} FROM enrolment ORDER BY id DESC LIMIT :limit")


def assign_key(queue: Queue, upn: str, key_identity: str) -> None:
    """Pre-assign a key (its serial or identity) to the queued person with this UPN, as an import's
    ``key_serial`` column does."""
    queue.get(upn)  # a person the queue does not hold fails here, not as a new person
    queue.add_people([NewPerson(upn, key_serial=key_identity)])


def claim_person(queue: Queue, person_id: int, station_id: str, lease_seconds: float) -> PersonView | None:
    """Claim one given person, if still queued; None when someone else holds them."""
    at = time.time()
    with queue.engine.begin() as conn:
        row = conn.execute(_CLAIM, {"claimed": PersonState.CLAIMED.value, "queued": PersonState.QUEUED.value,
                                    "station": station_id, "expires": at + lease_seconds, "at": at,
                                    "id": person_id}).mappings().first()
    return PersonView(**row) if row is not None else None


def recent_rows(journal: Journal, limit: int = 50) -> list[JournalRow]:
    """The latest journal rows, newest first."""
    with journal.engine.connect() as conn:
        return [JournalRow(**row) for row in conn.execute(_RECENT, {"limit": limit}).mappings().all()]
