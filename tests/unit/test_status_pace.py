"""The status snapshot's pace: enrolments finished in the last 15 minutes, the dashboard's rolling rate."""

from __future__ import annotations

from station.status import PACE_WINDOW, EntraHealth, StatusBoard
from station.store import JournalState, NewPerson, Store


def test_the_snapshot_counts_enrolments_done_in_the_last_15_minutes(store: Store) -> None:
    board = StatusBoard(station_id="desk-1", station_name="Desk 1", store=store, engine=None,
                        health=EntraHealth(), watchers=[])
    assert board.snapshot()["pace"] == {"window_seconds": PACE_WINDOW, "enrolled": 0}
    store.queue.add_people([NewPerson("kim@contoso.com", "Kim")])
    person = store.queue.claim_next("desk-1", 600)
    assert person is not None
    row = store.journal.open(person.id, "desk-1", slot="Virtual 1")
    store.journal.advance(row.id, JournalState.DONE)
    assert board.snapshot()["pace"]["enrolled"] == 1
