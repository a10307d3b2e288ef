"""The README's least-privilege set-up, run as written (with fresh names) on the real PostgreSQL: the owner
migrates, a station works as ``station_app``, and that role can neither delete, rewrite the audit trail nor
change the schema."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from pg import ADMIN_URL, HOST, PORT, server_problem
from realstack import require

from station.store import JournalState, NewPerson, PersonState, open_store

pytestmark = pytest.mark.realstack

README = Path(__file__).parents[2] / "README.md"
MIGRATE_MARK = "-- now run the migrations as station_owner, then:"


def readme_sql() -> str:
    fleet = README.read_text(encoding="utf-8").split("\n## Fleet\n", 1)[1]
    match = re.search(r"```sql\n(.*?)```", fleet, re.S)
    assert match, "the README's Fleet section has no SQL block"
    return match.group(1)


def run_sql(conninfo: str, sql: str) -> None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for statement in (s.strip() for s in re.sub(r"--[^\n]*", "", sql).split(";")):
            if statement:
                conn.execute(statement)  # type: ignore[call-overload]


@pytest.fixture
def names() -> Iterator[dict[str, str]]:
    problem = server_problem()
    require(problem is None, f"PostgreSQL on {HOST}:{PORT} is unreachable: {problem}")
    tag = secrets.token_hex(4)
    names = {"station_owner": f"st_owner_{tag}", "station_app": f"st_app_{tag}", "station_fleet": f"st_fleet_{tag}"}
    yield names
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{names["station_fleet"]}" WITH (FORCE)')  # type: ignore[arg-type]
        for role in (names["station_app"], names["station_owner"]):
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')  # type: ignore[arg-type]


def test_readme_roles_let_a_station_work_and_nothing_more(names: dict[str, str]) -> None:
    sql = readme_sql()
    for old, new in names.items():
        sql = re.sub(rf"\b{old}\b", new, sql)
    setup, grants = sql.split(MIGRATE_MARK.replace("station_owner", names["station_owner"]))
    server, database = setup.split(f"\\connect {names['station_fleet']}")
    run_sql(ADMIN_URL, server)
    db_admin = ADMIN_URL.rsplit("/", 1)[0] + f"/{names['station_fleet']}"
    run_sql(db_admin, database)
    base = f"postgresql://{{}}@{HOST}:{PORT}/{names['station_fleet']}"

    open_store(base.format(names["station_owner"])).close()
    run_sql(db_admin, grants)

    store = open_store(base.format(names["station_app"]), "kiosk-1")
    try:
        store.queue.add_people([NewPerson("kim@x.com", key_serial="SN-1"), NewPerson("lee@x.com")])
        person = store.queue.claim_next("kiosk-1", 600, ["SN-1"])
        assert person is not None and person.upn == "kim@x.com"
        row = store.journal.open(person.id, "kiosk-1", lease_expires=1.0)
        store.journal.advance(row.id, JournalState.PIN_ESCROWED, pin_escrow="sealed")
        assert store.journal.take_over(row.id, "kiosk-2", 2.0, 1.0)
        store.queue.mark(person.id, PersonState.ENROLLED)
        store.audit.record("done", person_id=person.id)
        store.stations.register("kiosk-1", "Desk")
        store.stations.heartbeat("kiosk-1", "idle", [])
        store.meta.set("delta_link", "https://graph.example/next")
        assert [e.kind for e in store.audit.entries()] == ["done"]
    finally:
        store.close()

    app = base.format(names["station_app"])
    for forbidden in ("DELETE FROM audit_event", "UPDATE audit_event SET kind = 'x'", "DELETE FROM person",
                      "DELETE FROM enrolment", "CREATE TABLE extra (id int)", "DROP TABLE person"):
        with psycopg.connect(app, autocommit=True) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(forbidden)  # type: ignore[call-overload]
