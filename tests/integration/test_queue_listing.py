"""`station queue list` on a SQLite store reads it with sqlite3 alone (station/queue_listing.py) and prints what
the store's own path (SQLAlchemy, `Queue.list`) prints: the same people, order, columns and escaping. A store
it cannot read that way — not there yet, made by an older version, on PostgreSQL — is listed the usual way."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from pg import pg_url  # noqa: F401  (fixture)
from sqlalchemy import text

from station import cli, queue_listing
from station.store import NewPerson, PersonState, open_store

PEOPLE = [
    NewPerson(upn="kim@contoso.com", display_name="Kim Lee", object_id="0f0e0d0c-0000-4000-8000-000000000001"),
    NewPerson(upn="ana@contoso.com", display_name="Ana", priority=5, preferred_language="de-DE"),
    NewPerson(upn="bo@contoso.com", display_name="Bo", source="csv"),
    NewPerson(upn="cy@contoso.com", display_name="Cy", priority=5),
    NewPerson(upn="di@contoso.com", display_name="Di", priority=-1),
]


def _fill(url: str) -> None:
    store = open_store(url, "desk-1")
    try:
        store.queue.add_people(PEOPLE)
        claimed = store.queue.claim_next("desk-1", 60)
        assert claimed is not None
        assert store.queue.requeue_failed(claimed.id, "desk-1", "key refused", max_attempts=1) is not None
        store.queue.skip("di@contoso.com", "on leave")
        store.queue.mark(store.queue.get("cy@contoso.com").id, PersonState.ENROLLED)
        # Names that a store written before the queue refused such text may still hold.
        with store.engine.begin() as conn:
            for upn, name in (("ana@contoso.com", "Ana \u202eevil\u202c"), ("bo@contoso.com", "Bo\x1b[31m red")):
                conn.execute(text("UPDATE person SET display_name = :n WHERE upn = :upn"), {"n": name, "upn": upn})
    finally:
        store.close()


def _station(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("STATION_")}
    return subprocess.run([sys.executable, "-m", "station.cli", *args], capture_output=True, text=True, timeout=120,
                          env={**clean, **(env or {})}, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("options", [[], ["--json"], ["--state", "failed"], ["--state", "queued", "--json"],
                                     ["--state", "claimed"]])
def test_the_sqlite3_path_prints_what_the_store_path_prints(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            options: list[str]) -> None:
    url = f"sqlite:///{tmp_path / 'station.db'}"
    _fill(url)
    argv = ["queue", "list", "--store", url, *options]
    read: list[int] = []
    list_people = queue_listing.list_people

    def counted(db: Path, state: str | None) -> list[dict[str, object]] | None:
        people = list_people(db, state)
        read.append(len(people) if people is not None else -1)
        return people

    monkeypatch.setattr(queue_listing, "list_people", counted)
    assert cli.main(argv) == 0
    fast = capsys.readouterr().out
    assert read and read[0] >= 0, "the SQLite store was read with sqlite3"
    monkeypatch.setattr(queue_listing, "sqlite_store", lambda config, override: None)
    assert cli.main(argv) == 0
    assert fast == capsys.readouterr().out
    if "--json" not in options and "--state" not in options:
        lines = fast.splitlines()
        assert [line.split()[1] for line in lines] == ["ana@contoso.com", "cy@contoso.com", "kim@contoso.com",
                                                       "bo@contoso.com", "di@contoso.com"]
        assert "\u202e" not in fast and "\x1b" not in fast, "names are shown, never obeyed"


def test_json_has_every_column_of_a_person(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'station.db'}"
    _fill(url)
    listed = _station("queue", "list", "--store", url, "--json")
    assert listed.returncode == 0, listed.stderr
    store = open_store(url)
    try:
        assert json.loads(listed.stdout) == [p.to_dict() for p in store.queue.list()]
    finally:
        store.close()


def test_a_store_an_older_version_made_is_brought_up_to_date_and_listed(tmp_path: Path) -> None:
    db = tmp_path / "station.db"
    _fill(f"sqlite:///{db}")
    with sqlite3.connect(db) as conn:
        conn.execute("ALTER TABLE person DROP COLUMN preferred_language")  # back to what version 5 made
        conn.execute("ALTER TABLE key_handout DROP COLUMN key_preparation")
        conn.execute("ALTER TABLE key_handout DROP COLUMN pin_sealed")
        conn.execute("UPDATE meta SET value = '5' WHERE key = 'schema_version'")
    conn.close()
    listed = _station("queue", "list", "--store", f"sqlite:///{db}")
    assert listed.returncode == 0, listed.stderr
    assert "kim@contoso.com" in listed.stdout and "ana@contoso.com" in listed.stdout
    with sqlite3.connect(db) as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(person)")}
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
    conn.close()
    assert "preferred_language" in columns and version != "5"


def test_a_store_not_there_yet_is_made_and_empty(tmp_path: Path) -> None:
    state = tmp_path / "state"
    listed = _station("queue", "list", env={"STATION_STATE_DIR": str(state)})
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout == "the queue is empty\n"
    assert (state / "station.db").is_file()


def test_a_postgresql_store_is_listed_the_usual_way(pg_url: str) -> None:  # noqa: F811
    _fill(pg_url)
    listed = _station("queue", "list", "--store", pg_url, "--state", "failed")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split()[:2] == ["failed", "ana@contoso.com"]
