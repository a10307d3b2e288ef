"""The store on a real PostgreSQL: migrations, every queue and journal operation, the queue state machine,
row locks between stations, one winner when stations race to adopt a stale journal row, key pre-assignment
honoured at any station, and the station registry."""

from __future__ import annotations

import importlib.util
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from hypothesis import settings
from hypothesis.stateful import initialize, run_state_machine_as_test
from pg import pg_url  # noqa: F401  (fixture)
from sqlalchemy import text
from support.store_helpers import claim_person, recent_rows

from station.errors import InvalidStateError
from station.store import JournalState, NewPerson, PersonState, Store, open_store
from station.store.engine import make_engine
from station.store.migrations import SCHEMA_VERSION, migrate

pytestmark = pytest.mark.realstack

_spec = importlib.util.spec_from_file_location(
    "queue_semantics", Path(__file__).parents[1] / "unit" / "test_queue_semantics.py")
assert _spec is not None and _spec.loader is not None
_semantics = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_semantics)


@pytest.fixture
def pg(pg_url: str) -> Iterator[Store]:  # noqa: F811
    store = open_store(pg_url, "st-a")
    yield store
    store.close()


def _psql(url: str) -> psycopg.Connection:
    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))


class PgQueueMachine(_semantics.QueueMachine):  # type: ignore[misc,name-defined]
    """The SQLite queue model, run against one PostgreSQL database emptied before every example."""

    url = ""

    @initialize()
    def open(self) -> None:
        self.store = open_store(self.url, "st")
        with self.store.engine.begin() as conn:
            conn.execute(text("TRUNCATE person, keyassignment, enrolment, audit_event RESTART IDENTITY CASCADE"))
        self.model: dict[str, str] = {}
        self.clock = 1_000.0

    def teardown(self) -> None:
        self.store.close()


def test_queue_state_machine_on_postgresql(pg_url: str) -> None:  # noqa: F811
    PgQueueMachine.url = pg_url
    run_state_machine_as_test(PgQueueMachine, settings=settings(max_examples=6, stateful_step_count=25,
                                                                deadline=None, database=None))


def test_migrations_run_once_when_stations_start_together(pg_url: str) -> None:  # noqa: F811
    versions: list[int] = []
    errors: list[BaseException] = []

    def start() -> None:
        engine = make_engine(pg_url)
        try:
            versions.append(migrate(engine))
        except BaseException as e:
            errors.append(e)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=start) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert versions == [SCHEMA_VERSION] * 6
    with _psql(pg_url) as conn:
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
    assert {"person", "keyassignment", "enrolment", "station", "audit_event", "meta"} <= tables
    assert version == [(str(SCHEMA_VERSION),)]


def test_queue_operations(pg: Store) -> None:
    q = pg.queue
    assert q.add_people([NewPerson("Ann@x.com", "Ann"), NewPerson("bo@x.com", "Bo", priority=3),
                         NewPerson("cy@x.com", "Cy", object_id="0b5c4a3e-1f6f-4a8e-9d43-2c1a5b7c9e01")]).added == 3
    assert q.add_people([NewPerson("ann@x.com", "Ann Lee")]).updated == 1
    assert [p.upn for p in q.peek_next(5)] == ["bo@x.com", "ann@x.com", "cy@x.com"]
    bo = q.claim_next("st-a", 60)
    assert bo is not None and bo.upn == "bo@x.com" and bo.lease_station == "st-a"
    assert q.renew_lease(bo.id, "st-a", 120) and not q.renew_lease(bo.id, "st-b", 120)
    assert not q.release(bo.id, "st-b") and q.release(bo.id, "st-a", note="key removed")
    assert q.get("bo@x.com").state == "queued" and q.get("bo@x.com").note == "key removed"
    cy = claim_person(q, q.get("0b5c4a3e-1f6f-4a8e-9d43-2c1a5b7c9e01").id, "st-b", 60)
    assert cy is not None and cy.lease_station == "st-b"
    assert claim_person(q, cy.id, "st-a", 60) is None
    q.mark(cy.id, PersonState.ENROLLED)
    q.skip("ann@x.com", "on leave")
    with pytest.raises(InvalidStateError):
        q.skip("cy@x.com")
    assert q.retry("ann@x.com").state == "queued"
    stale = q.claim_next("st-b", 0.01)
    assert stale is not None
    time.sleep(0.05)
    assert q.expire_stale_leases() == 1 and q.get(stale.upn).state == "queued"
    assert q.counts() == {"queued": 2, "claimed": 0, "enrolled": 1, "failed": 0, "skipped": 0}
    assert [p.upn for p in q.list(state="enrolled")] == ["cy@x.com"]


def test_journal_operations(pg: Store) -> None:
    pg.queue.add_people([NewPerson("a@x.com"), NewPerson("b@x.com")])
    a, b = pg.queue.claim_next("st-a", 60), pg.queue.claim_next("st-b", 60)
    assert a is not None and b is not None
    t0 = time.time()
    ra = pg.journal.open(a.id, "st-a", slot="usb-1", lease_expires=t0 + 60)
    rb = pg.journal.open(b.id, "st-b", slot="nfc-1", lease_expires=t0 - 5)
    pg.journal.advance(ra.id, JournalState.PIN_ESCROWED, pin_escrow="sealed-bytes")
    row = pg.journal.advance(ra.id, JournalState.CREDENTIAL_MADE, credential_id="Y3JlZA", display_name="Key")
    assert row.state == "credential_made" and row.credential_id == "Y3JlZA"
    assert [r.id for r in pg.journal.unfinished("st-a")] == [ra.id]
    assert [r.id for r in pg.journal.unfinished("st-a", stale_before=t0)] == [ra.id, rb.id]
    assert [r.id for r in pg.journal.unfinished("st-c", stale_before=t0 - 10)] == []
    assert [r.id for r in pg.journal.with_escrow()] == [ra.id]
    pg.journal.advance(ra.id, JournalState.DONE)
    assert pg.journal.count_done_since(t0 - 1) == 1
    assert [r.id for r in pg.journal.unfinished("st-a")] == []
    assert [r.id for r in recent_rows(pg.journal, 1)] == [rb.id]
    assert [r.state for r in pg.journal.for_person(a.id)] == ["done"]
    # the person of an unfinished row stays claimed when the lease runs out: reconciliation decides
    pg.queue.expire_stale_leases(at=t0 + 10**6)
    assert pg.queue.get("b@x.com").state == "claimed"


def test_one_station_wins_a_stale_row(pg_url: str) -> None:  # noqa: F811
    stores = [open_store(pg_url, f"st-{i}") for i in range(8)]
    try:
        stores[0].queue.add_people([NewPerson("a@x.com")])
        person = stores[0].queue.claim_next("dead", 60)
        assert person is not None
        expired = time.time() - 120
        row = stores[0].journal.open(person.id, "dead", lease_expires=expired)
        barrier = threading.Barrier(len(stores))
        won: list[str] = []

        def adopt(store: Store, station: str) -> None:
            barrier.wait()
            if store.journal.take_over(row.id, station, time.time() + 60, expired):
                won.append(station)

        threads = [threading.Thread(target=adopt, args=(s, f"st-{i}")) for i, s in enumerate(stores)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert len(won) == 1
        after = stores[0].journal.get(row.id)
        assert after is not None and after.station_id == won[0]
        # a row that ended meanwhile is never adopted, even with the right lease
        stores[0].journal.advance(row.id, JournalState.ABANDONED)
        assert not stores[1].journal.take_over(row.id, "st-1", time.time() + 60, after.lease_expires)
    finally:
        for s in stores:
            s.close()


def test_pre_assigned_key_is_honoured_at_any_station(pg_url: str) -> None:  # noqa: F811
    a, b = open_store(pg_url, "st-a"), open_store(pg_url, "st-b")
    try:
        a.queue.add_people([NewPerson("kim@x.com", key_serial="SN-7"), NewPerson("lee@x.com")])
        assert b.queue.claim_next("st-b", 60, ["SN-1"]).upn == "lee@x.com"  # type: ignore[union-attr]
        assert a.queue.claim_next("st-a", 60, ["SN-1"]) is None
        kim = b.queue.claim_next("st-b", 60, ["SN-7"])
        assert kim is not None and kim.upn == "kim@x.com" and kim.lease_station == "st-b"
    finally:
        a.close()
        b.close()


def test_operator_action_waits_for_a_claim_in_flight(pg: Store, pg_url: str) -> None:  # noqa: F811
    """A skip racing a station's claim sees the claim, instead of overwriting it."""
    pg.queue.add_people([NewPerson("a@x.com")])
    outcome: list[object] = []
    with _psql(pg_url) as other:
        other.execute("UPDATE person SET state = 'claimed', lease_station = 'st-b' WHERE upn = 'a@x.com'")

        def skip() -> None:
            try:
                outcome.append(pg.queue.skip("a@x.com"))
            except InvalidStateError as e:
                outcome.append(e)

        t = threading.Thread(target=skip)
        t.start()
        time.sleep(0.5)
        assert t.is_alive(), "the skip did not wait for the claim's row lock"
        other.commit()
        t.join(10)
    assert len(outcome) == 1 and isinstance(outcome[0], InvalidStateError)
    assert pg.queue.get("a@x.com").state == "claimed"


def test_station_registry(pg: Store) -> None:
    pg.stations.register("st-a", "Desk A")
    pg.stations.heartbeat("st-a", "idle", [{"slot": "usb-1", "step": "touch"}])
    pg.stations.heartbeat("st-b", "working")
    views = {v.id: v for v in pg.stations.all()}
    assert set(views) == {"st-a", "st-b"}
    assert views["st-a"].name == "Desk A" and views["st-a"].slots == [{"slot": "usb-1", "step": "touch"}]
    assert views["st-b"].status == "working" and time.time() - views["st-b"].heartbeat_at < 5
