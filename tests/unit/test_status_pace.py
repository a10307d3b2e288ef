"""The status snapshot's pace: enrolments finished in the last 15 minutes, the dashboard's rolling rate."""

from __future__ import annotations

from station.commands.daemon import format_status
from station.fleet import fleet_view, render
from station.status import PACE_WINDOW, EntraMeter, StatusBoard
from station.store import JournalState, NewPerson, PersonState, Store


def test_the_snapshot_counts_enrolments_done_in_the_last_15_minutes(store: Store) -> None:
    board = StatusBoard(station_id="desk-1", station_name="Desk 1", store=store, engine=None,
                        health=EntraMeter(), watchers=[])
    assert board.snapshot()["pace"] == {"window_seconds": PACE_WINDOW, "enrolled": 0}
    store.queue.add_people([NewPerson("kim@contoso.com", "Kim")])
    person = store.queue.claim_next("desk-1", 600)
    assert person is not None
    row = store.journal.open(person.id, "desk-1", slot="Virtual 1")
    store.journal.advance(row.id, JournalState.DONE)
    assert board.snapshot()["pace"]["enrolled"] == 1


def test_status_and_fleet_show_the_rollout_with_its_pace_and_finish(store: Store) -> None:
    """`station status` and `station fleet` print the same rollout lines as the dashboard's queue panel."""
    store.queue.add_people([NewPerson(f"p{i}@contoso.com", f"P {i}") for i in range(4)])
    person = store.queue.claim_next("desk-1", 600)
    assert person is not None
    row = store.journal.open(person.id, "desk-1", slot="Virtual 1")
    store.journal.advance(row.id, JournalState.DONE)
    store.queue.mark(person.id, PersonState.ENROLLED)
    board = StatusBoard(station_id="desk-1", station_name="Desk 1", store=store, engine=None,
                        health=EntraMeter(), watchers=[])
    text = format_status(board.snapshot())
    fleet = render(fleet_view(store))
    for shown in (text, fleet):
        assert "rollout: 1 of 4 done (25%) · 0 in progress · 3 waiting · 0 failed" in shown, shown
        assert "pace 4 per hour (last 15 min)" in shown, shown
        assert "at this pace done by" in shown and "(in 45 min)" in shown, shown
