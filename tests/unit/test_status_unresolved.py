"""An unresolved enrolment shows in the status snapshot (what `station status`, the dashboard and systemd's
STATUS= line read): listed with its reason and next check, counted in the summary, and in the text of
`station status`."""

from __future__ import annotations

import time

from station.commands.daemon import format_status
from station.status import EntraMeter, StatusBoard
from station.store import JournalState, NewPerson, Store


def test_an_unresolved_enrolment_is_in_the_snapshot_and_the_status_text(store: Store) -> None:
    store.queue.add_people([NewPerson("kim@contoso.com", "Kim")])
    person = store.queue.claim_next("desk-1", 600)
    assert person is not None
    row = store.journal.open(person.id, "desk-1", slot="Virtual 1")
    store.journal.advance(row.id, JournalState.REGISTERING)
    board = StatusBoard(station_id="desk-1", station_name="Desk 1", store=store, engine=None,
                        health=EntraMeter(), watchers=[])
    assert board.snapshot()["unresolved"] == []
    assert "unresolved" not in board.snapshot()["summary"]

    now = time.time()
    store.journal.check_failed(row.id, "auth_failed: the authority refused a token: invalid_client", now + 120,
                               station_id="desk-1", lease_expires=now)
    board.phase = "running"
    status = board.snapshot()
    (item,) = status["unresolved"]
    assert item["enrolment_id"] == row.id and item["upn"] == "kim@contoso.com" and item["checks"] == 1
    assert status["summary"].endswith("1 unresolved enrolment (station queue resolve)")
    text = format_status(status)
    assert (f"  enrolment {row.id} of kim@contoso.com (registering at desk-1): auth_failed: the authority "
            "refused a token: invalid_client; next check in 2 min") in text
    assert "station queue resolve UPN" in text
