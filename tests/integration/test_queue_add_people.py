"""Queue.add_people in bulk on SQLite and PostgreSQL: a re-import reports exactly what changed, people are
matched by object id before UPN (a renamed person keeps their row), duplicates in one call count once, key
pre-assignments land on new and queued people, and a call that fails writes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pg import pg_url  # noqa: F401  (fixture)

from station.errors import StoreError
from station.store import NewPerson, PersonState, Store, open_store

pytestmark = pytest.mark.realstack


@pytest.fixture(params=["sqlite", "postgresql"])
def queue_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    url = f"sqlite:///{tmp_path / 'station.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    store = open_store(url, "st")
    yield store
    store.close()


def directory(n: int) -> list[NewPerson]:
    return [NewPerson(upn=f"Person.{i}@Contoso.example", display_name=f"Person {i}",
                      object_id=f"00000000-0000-4000-8000-{i:012d}", source="entra") for i in range(n)]


def test_reimport_of_ten_thousand_with_a_hundred_renamed_reports_only_those(queue_store: Store) -> None:
    people = directory(10_000)
    first = queue_store.queue.add_people(people)
    assert (first.added, first.updated, first.unchanged) == (10_000, 0, 0)
    renamed = {i * 97 for i in range(100)}
    again = [NewPerson(p.upn, f"{p.display_name} (renamed)" if i in renamed else p.display_name, p.object_id,
                       source="entra") for i, p in enumerate(people)]
    result = queue_store.queue.add_people(again)
    assert (result.added, result.updated, result.unchanged) == (0, 100, 9_900)
    assert queue_store.queue.get("person.97@contoso.example").display_name == "Person 97 (renamed)"
    assert queue_store.queue.get("person.98@contoso.example").display_name == "Person 98"
    assert queue_store.queue.counts()["queued"] == 10_000
    assert [p.upn for p in queue_store.queue.peek_next(2)] == ["person.0@contoso.example", "person.1@contoso.example"]


def test_matching_by_object_id_first_and_duplicates_in_one_call(queue_store: Store) -> None:
    q = queue_store.queue
    q.add_people([NewPerson("ann@x.com", "Ann", object_id="oid-ann"), NewPerson("bo@x.com", "Bo")])
    result = q.add_people([
        NewPerson("Ann.Lee@x.com", "", object_id="oid-ann"),  # renamed in the directory: same row, name kept
        NewPerson("bo@x.com", "Bo", object_id="oid-bo"),  # gains an object id, matched by UPN
        NewPerson("cy@x.com", "Cy"), NewPerson("CY@x.com", "Cy Young"),  # a newcomer, then a duplicate
    ])
    assert (result.added, result.updated, result.unchanged) == (1, 3, 0)
    assert q.get("oid-ann").upn == "ann.lee@x.com" and q.get("oid-ann").display_name == "Ann"
    assert q.get("bo@x.com").object_id == "oid-bo"
    assert q.get("cy@x.com").display_name == "Cy Young"
    assert q.counts()["queued"] == 3


def test_key_serials_are_assigned_to_new_and_queued_people(queue_store: Store) -> None:
    q = queue_store.queue
    q.add_people(directory(600))
    result = q.add_people([NewPerson("kim@x.com", key_serial="SN-1"),
                           NewPerson("person.5@contoso.example", key_serial="SN-2")])
    assert (result.added, result.unchanged) == (1, 1)
    assert q.key_assignment(q.get("kim@x.com").id) == "SN-1"
    assert q.key_assignment(q.get("person.5@contoso.example").id) == "SN-2"
    many = [NewPerson(f"new{i}@x.com", key_serial=f"K-{i}") for i in range(700)]
    assert q.add_people(many).added == 700
    assert q.key_assignment(q.get("new650@x.com").id) == "K-650"
    claimed = q.claim_next("st", 60, ["K-3"])
    assert claimed is not None and claimed.upn == "new3@x.com"


def test_a_failing_call_writes_nothing(queue_store: Store) -> None:
    q = queue_store.queue
    q.add_people([NewPerson("ann@x.com", "Ann", object_id="oid-ann"), NewPerson("bo@x.com", "Bo")])
    with pytest.raises(StoreError, match="nothing from it was written"):
        # Ann's row would take Bo's UPN: the whole call is refused, the newcomer included.
        q.add_people([NewPerson("dee@x.com", "Dee"), NewPerson("bo@x.com", "Ann", object_id="oid-ann")])
    assert q.counts()["queued"] == 2
    assert q.get("oid-ann").upn == "ann@x.com"
    assert q.add_people([NewPerson("dee@x.com", "Dee")]).added == 1


def test_a_upn_handed_to_someone_else_never_takes_its_holders_row(queue_store: Store) -> None:
    """A UPN passes to a new employee: in the same import as its holder's rename, whatever their order, both
    keep a row; while its holder still has it, the import is refused and the holder's row (an enrolment with
    it) is left alone."""
    q = queue_store.queue
    q.add_people([NewPerson("sam@x.com", "Sam Old", object_id="oid-sam"), NewPerson("kai@x.com", "Kai", "oid-kai")])
    q.mark(q.get("oid-sam").id, PersonState.ENROLLED)
    result = q.add_people([NewPerson("sam@x.com", "Sam New", object_id="oid-sam-2"),  # the UPN's new holder first
                           NewPerson("sam.old@x.com", "Sam Old", object_id="oid-sam")])  # then its old one renamed
    assert (result.added, result.updated) == (1, 1)
    assert (q.get("oid-sam").upn, q.get("oid-sam").state) == ("sam.old@x.com", PersonState.ENROLLED)
    assert (q.get("oid-sam-2").upn, q.get("oid-sam-2").state) == ("sam@x.com", PersonState.QUEUED)
    with pytest.raises(StoreError, match="nothing from it was written"):
        q.add_people([NewPerson("lou@x.com", "Lou"), NewPerson("kai@x.com", "Kai Two", object_id="oid-kai-2")])
    assert q.get("kai@x.com").object_id == "oid-kai"
    assert sorted(p.upn for p in q.list()) == ["kai@x.com", "sam.old@x.com", "sam@x.com"]  # no Lou
