"""A large import staged page by page and applied in one transaction (station/store/staged_import.py), on SQLite
and PostgreSQL: the queue ends exactly as ``Queue.add_people`` leaves it, a re-import updates exactly the people
who changed, an import that fails while its source is read (Graph failing on page 3) leaves the queue as it was,
and on SQLite a station's claim is not held up while the pages are read."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pg import fresh_database
from test_entra_client_cli import group_users, queue, write_config

from station.cli import main
from station.errors import GraphError, ImportRejectedError, StoreError
from station.store import AddResult, NewPerson, Store, open_store
from station_emulator.entra import EntraEmulator

pytestmark = pytest.mark.realstack


@pytest.fixture(params=["sqlite", "postgresql"])
def store_urls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two empty stores of one kind: one imported into with staging, the other with add_people."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'staged.db'}", f"sqlite:///{tmp_path / 'planned.db'}"
        return
    with fresh_database() as staged, fresh_database() as planned:
        yield staged, planned


def staged(store: Store, people: list[NewPerson]) -> AddResult:
    with store.staged_import() as batch:
        batch.stage(iter(people))
        return batch.apply()


def contents(store: Store) -> list[tuple[object, ...]]:
    assignments = store.queue.key_assignments()
    return [(p.id, p.upn, p.display_name, p.object_id, p.preferred_language, p.source, p.priority, p.state,
             assignments.get(p.id)) for p in store.queue.list()]


def directory(n: int) -> list[NewPerson]:
    return [NewPerson(f"Person.{i}@Contoso.example", f"Person {i}", f"00000000-0000-4000-8000-{i:012d}",
                      source="entra-group", preferred_language="de-DE" if i % 3 else None) for i in range(n)]


ROUNDS = [
    # a first import, with key pre-assignments, one key named twice (the later person gets it)
    [*directory(1_200), NewPerson("kim@x.com", "Kim", key_serial="SN-1"), NewPerson("lee@x.com", key_serial="SN-1")],
    # a re-import: names, a UPN and a language changed, one gains an object id, newcomers, one unchanged key
    [NewPerson(p.upn, f"{p.display_name} (renamed)", p.object_id, source=p.source) if i % 100 == 7 else
     NewPerson(f"renamed.{i}@contoso.example", "", p.object_id) if i == 13 else
     NewPerson(p.upn, p.display_name, p.object_id, preferred_language="fr") if i == 14 else p
     for i, p in enumerate(directory(1_200))]
    + [NewPerson("KIM@x.com", "", "oid-kim", key_serial="SN-1"), NewPerson("new@x.com", "New", priority=5)],
    # duplicates among the imported (their outcome depends on the order): the same as add_people
    [NewPerson("new@x.com", "New Again"), NewPerson("dup@x.com", "Dup"), NewPerson("DUP@x.com", "Dup Two"),
     NewPerson("person.3@contoso.example", "Three", "oid-three"), NewPerson("x3@x.com", "", "oid-three")],
    # a person matched by object id takes the UPN another queued person left earlier in the same import
    [NewPerson("person.20.old@contoso.example", "Twenty", "00000000-0000-4000-8000-000000000020"),
     NewPerson("person.20@contoso.example", "Twenty-one", "00000000-0000-4000-8000-000000000021")],
    # a newcomer given the UPN a queued person leaves later in the same import: both keep a row
    [NewPerson("person.30@contoso.example", "Thirty, new", "oid-new-30"),
     NewPerson("person.30.old@contoso.example", "Thirty", "00000000-0000-4000-8000-000000000030")],
]


def test_the_queue_ends_as_add_people_leaves_it(store_urls: tuple[str, str]) -> None:
    staged_store, planned_store = (open_store(url, "st") for url in store_urls)
    try:
        for people in ROUNDS:
            assert staged(staged_store, people) == planned_store.queue.add_people(people)
            assert contents(staged_store) == contents(planned_store)
    finally:
        staged_store.close()
        planned_store.close()


def test_a_reimport_updates_exactly_the_people_who_changed(store_urls: tuple[str, str]) -> None:
    store = open_store(store_urls[0], "st")
    try:
        assert staged(store, directory(3_000)) == AddResult(3_000, 0, 0)
        before = {p.upn: p for p in store.queue.list()}
        changed = {i: f"Person {i} (married)" for i in range(5, 3_000, 301)}
        again = [NewPerson(p.upn, changed.get(i, p.display_name), p.object_id, source=p.source)
                 for i, p in enumerate(directory(3_000))]
        assert staged(store, again) == AddResult(0, len(changed), 3_000 - len(changed))
        after = {p.upn: p for p in store.queue.list()}
        differing = {upn for upn in after if after[upn] != before[upn]}
        assert differing == {f"person.{i}@contoso.example" for i in changed}
        assert all(after[f"person.{i}@contoso.example"].display_name == name for i, name in changed.items())
    finally:
        store.close()


def test_refused_or_conflicting_imports_write_nothing(store_urls: tuple[str, str]) -> None:
    store = open_store(store_urls[0], "st")
    try:
        staged(store, [NewPerson("ann@x.com", "Ann", "oid-ann"), NewPerson("bo@x.com", "Bo")])
        before = contents(store)
        with pytest.raises(StoreError, match="nothing from it was written"):
            staged(store, [NewPerson("dee@x.com", "Dee"), NewPerson("bo@x.com", "Ann", "oid-ann")])
        with pytest.raises(ImportRejectedError, match="2 problem"):
            staged(store, [NewPerson("eve@x.com", "Eve"), NewPerson("fay@x.com", "Fay\x1b[2J"),
                           *directory(1_500), NewPerson("gus@x.com", "Gus\x00")])
        assert contents(store) == before
        assert staged(store, [NewPerson("dee@x.com", "Dee")]) == AddResult(1, 0, 0)
    finally:
        store.close()


def test_a_claim_is_not_held_up_while_pages_are_read(tmp_path: Path) -> None:
    """SQLite: staging writes only the import's temp database, so a station's claim (BEGIN IMMEDIATE on the
    queue, busy timeout 30 s) goes through at once mid-import instead of failing with 'database is locked'."""
    url = f"sqlite:///{tmp_path / 'station.db'}"
    importer, station = open_store(url, "importer"), open_store(url, "st-1")
    claimed = []

    def pages() -> Iterator[NewPerson]:
        for i, person in enumerate(directory(2_500)):
            if i == 1_500:  # the first page is staged, Graph is being read
                claimed.append(station.queue.claim_next("st-1", 60))
            yield person

    try:
        importer.queue.add_people([NewPerson("first@x.com", "First")])
        with importer.staged_import() as batch:
            batch.stage(pages())
            assert batch.apply() == AddResult(2_500, 0, 0)
        assert [p.upn for p in claimed if p is not None] == ["first@x.com"]
        assert station.queue.counts()["queued"] == 2_500
    finally:
        importer.close()
        station.close()


def test_graph_failing_on_the_third_page_leaves_the_queue_as_it_was(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    with EntraEmulator(users=2_600, group_size=2_500, seed=5) as emu:
        config = str(write_config(emu, tmp_path))
        assert main(["--config", config, "import", "--group", emu.info.group_id]) == 0
        members = group_users(emu)
        before = queue(tmp_path)
        assert set(before) == set(members)
        for uid in sorted(members)[::400]:
            emu.tenant.update_user(uid, {"displayName": "Changed Meanwhile"})
        emu.faults.inject(500, path="transitiveMembers", after=2)
        capsys.readouterr()
        assert main(["--config", config, "import", "--group", emu.info.group_id]) != 0
        assert "list members of group" in capsys.readouterr().err
        assert queue(tmp_path) == before
        assert main(["--config", config, "import", "--group", emu.info.group_id]) == 0
        assert f"0 added, {len(sorted(members)[::400])} updated" in capsys.readouterr().out


def test_the_source_failing_midway_stages_nothing_into_the_queue(store_urls: tuple[str, str]) -> None:
    store = open_store(store_urls[0], "st")

    def failing() -> Iterator[NewPerson]:
        yield from directory(2_500)
        raise GraphError("Graph answered 500 on page 3")

    try:
        staged(store, directory(10))
        before = contents(store)
        with pytest.raises(GraphError), store.staged_import() as batch:
            batch.stage(failing())
        assert contents(store) == before
        assert staged(store, directory(20)) == AddResult(10, 0, 10)
    finally:
        store.close()
