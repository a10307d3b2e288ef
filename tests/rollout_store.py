"""A store with a rollout's history, written through the store's own API (as stations write it), then dated
back over a few days: for the report's tests on SQLite and PostgreSQL.

``SECRET`` is put where a PIN escrow goes; no report may show it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import text

from station.store import NewPerson, PersonState, Store
from station.store.models import JournalState

SECRET = "SEALED-PIN-0f1e2d3c4b5a"
STATIONS = ("kiosk-1", "kiosk-2")
MODELS = ("YubiKey 5 Series", "Google Titan Security Key v2")
HOSTILE_NAME = '<script>console.error("x")</script><img src=x onerror=alert(1)>Kim & "Ø"'


@dataclass(frozen=True)
class Rollout:
    first_day: date
    enrolled: int = 18
    failed: int = 4
    requeued: int = 2
    skipped: int = 2
    waiting: int = 5

    @property
    def people(self) -> int:
        return self.enrolled + self.failed + self.requeued + self.skipped + self.waiting

    def day(self, i: int) -> date:
        return self.first_day + timedelta(days=i % 3)

    @staticmethod
    def seconds(i: int) -> float:
        return 20.0 + i


def at(day: date, hour: int) -> float:
    return datetime.combine(day, time(hour)).timestamp()


def fill(store: Store, plan: Rollout) -> None:
    people = [NewPerson(upn=f"person{i:03d}@contoso.example",
                        display_name=HOSTILE_NAME if i == plan.enrolled else f"Person {i}", source="test")
              for i in range(plan.people)]
    people[plan.enrolled + plan.failed] = NewPerson(upn="formula@contoso.example", display_name="=HYPERLINK(1)",
                                                   source="test")
    store.queue.add_people(people)
    ids = {p.upn: p.id for p in store.queue.list()}
    upns = [p.upn for p in people]
    dates: list[tuple[int, float, float]] = []
    for i, upn in enumerate(upns):
        pid = ids[upn]
        station = STATIONS[i % 2]
        start = at(plan.day(i), 10) + 60 * i
        if i < plan.enrolled:
            row = store.journal.open(pid, station, model=MODELS[i % 2], slot="USB 1-1")
            store.journal.advance(row.id, JournalState.DONE, pin_escrow=SECRET)
            store.queue.mark(pid, PersonState.ENROLLED)
            dates.append((row.id, start, start + plan.seconds(i)))
        elif i < plan.enrolled + plan.failed + plan.requeued:
            row = store.journal.open(pid, station, model=MODELS[0])
            failed_person = i < plan.enrolled + plan.failed
            reason = "touch_timeout" if failed_person else "graph_throttled"
            store.journal.advance(row.id, JournalState.FAILED, error_reason=reason, pin_escrow=SECRET)
            if failed_person:
                store.queue.mark(pid, PersonState.FAILED, note=f"{reason}: the key was not touched in time")
            dates.append((row.id, start, start + 40))
        elif i < plan.enrolled + plan.failed + plan.requeued + plan.skipped:
            store.queue.skip(upn)
    with store.engine.begin() as conn:
        for eid, created, updated in dates:
            conn.execute(text("UPDATE enrolment SET created_at = :c, updated_at = :u WHERE id = :id"),
                         {"c": created, "u": updated, "id": eid})
        conn.execute(text("UPDATE person SET created_at = :c"), {"c": at(plan.first_day, 8)})
    store.audit.record("key_rejected", slot="USB 1-2", reason="pin_already_set", message="used")
    store.audit.record("key_rejected", slot="USB 1-2", reason="pin_already_set", message="used")
