"""CSV import: all-or-nothing, every problem with its line number."""

from __future__ import annotations

from pathlib import Path

import pytest

from station.cli import main
from station.store import Store
from station.store.csv_import import CsvRejected, parse_people_csv, read_people_csv

HEADER = "upn,display_name,object_id,key_serial\n"


def test_good_file_parses_all_columns() -> None:
    people = list(parse_people_csv(HEADER + "kim@contoso.com,Kim Ökland,0f8fad5b-d9cb-469f-a165-70867728950e,SN1\n"
                                   "lee@contoso.com,Lee,,\n"))
    assert [p.upn for p in people] == ["kim@contoso.com", "lee@contoso.com"]
    assert people[0].display_name == "Kim Ökland"
    assert people[0].key_serial == "SN1"
    assert people[1].object_id is None


def test_the_persons_language_for_their_letter_survives_an_export_and_an_import_again(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """preferred_language is Entra ID's preferredLanguage for people who come from a file: the letter's language."""
    people = list(parse_people_csv("upn,display_name,preferred_language\nkim@contoso.com,Kim,de-DE\n"
                                   "lee@contoso.com,Lee,\n"))
    assert [p.preferred_language for p in people] == ["de-DE", None]
    source, store = tmp_path / "people.csv", f"sqlite:///{tmp_path / 'station.db'}"
    source.write_text("upn,display_name,preferred_language\nkim@contoso.com,Kim,de-DE\nlee@contoso.com,Lee,nl\n")
    assert main(["--store", store, "queue", "import-csv", str(source)]) == 0
    capsys.readouterr()
    assert main(["--store", store, "queue", "export"]) == 0
    exported = tmp_path / "exported.csv"
    exported.write_text(capsys.readouterr().out)
    assert [p.preferred_language for p in read_people_csv(exported)] == ["de-DE", "nl"]


def test_semicolon_separated_is_accepted() -> None:
    assert len(list(parse_people_csv("upn;display_name\na@b.com;A\n"))) == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("user,name\na@b.com,A\n", "line 1: header lacks upn, display_name"),
        ("upn,display_name,shoe_size\na@b.com,A,9\n", "line 1: unknown column(s) shoe_size"),
        ("", "line 1: the file is empty"),
        ("upn,display_name\n,Nobody\n", "line 2: upn is empty"),
        ("upn,display_name\nnot-an-upn,X\n", "line 2: upn 'not-an-upn' is not a user principal name"),
        ("upn,display_name\na@b.com,A\nA@B.com,A again\n", "line 3: duplicate UPN A@B.com (first on line 2)"),
        ("upn,display_name,object_id\na@b.com,A,xyz\n", "line 2: object_id 'xyz' is not a GUID"),
        ("upn,display_name\na@b.com,A,extra\n", "line 2: 3 fields, the header has 2"),
        ("upn,display_name,preferred_language\na@b.com,A,German (Germany)\n",
         "line 2: preferred_language 'German (Germany)' is not a language tag (such as de-DE, fr or nl-BE)"),
    ],
)
def test_malformed_rows_are_reported_with_line_numbers(text: str, message: str) -> None:
    with pytest.raises(CsvRejected) as info:
        list(parse_people_csv(text))
    assert any(message in p for p in info.value.problems), info.value.problems


def test_non_utf8_bytes_reported_with_line(tmp_path: Path) -> None:
    f = tmp_path / "people.csv"
    f.write_bytes(b"upn,display_name\na@b.com,A\nc@d.com,Caf\xe9\n")
    with pytest.raises(CsvRejected) as info:
        list(read_people_csv(f))
    assert "line 3: not UTF-8" in info.value.problems[0]


def test_one_bad_row_imports_nothing(store: Store, tmp_path: Path) -> None:
    rows = "".join(f"user{i}@contoso.com,User {i}\n" for i in range(100)) + "broken,row\n"
    with pytest.raises(CsvRejected), store.staged_import() as batch:
        batch.stage(parse_people_csv("upn,display_name\n" + rows))
    assert store.queue.counts()["queued"] == 0


def test_ten_thousand_rows_import_and_reimport_is_idempotent(store: Store, tmp_path: Path) -> None:
    f = tmp_path / "big.csv"
    f.write_text("upn,display_name\n" + "".join(f"user{i}@contoso.com,User {i}\n" for i in range(10_000)))
    people = list(read_people_csv(f))
    assert store.queue.add_people(people).added == 10_000
    again = store.queue.add_people(people)
    assert (again.added, again.unchanged) == (0, 10_000)
    assert store.queue.counts()["queued"] == 10_000
