"""CSV import of people, row by row (staged, then written in one transaction: station/store/staged_import.py);
one bad row rejects the whole file, after every row was checked, and nothing is written.

Columns (header row required): ``upn``, ``display_name``, optional ``object_id``, optional ``key_serial``,
optional ``priority``, optional ``preferred_language`` (a BCP 47 tag such as ``de-DE``, as Entra ID's
``preferredLanguage``: the language of the person's PIN letter) (the columns ``station queue export`` adds
besides are ignored). Every problem is
reported with its line number and reason — a control, bidirectional or invisible character (NUL, ESC, a
newline inside a quoted cell, RIGHT-TO-LEFT OVERRIDE…) or an over-long value included (station/text.py), so
that nothing a terminal or a database would trip over is queued.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from station.errors import ImportRejectedError
from station.i18n import is_language_tag
from station.store.queue import NewPerson, normalise_upn
from station.text import person_problems, visible

REQUIRED = ("upn", "display_name")
OPTIONAL = ("object_id", "key_serial", "priority", "preferred_language")
# Columns `station queue export` adds, so that its file imports again: read, and ignored.
EXPORTED = ("state", "attempts", "source", "note")
MAX_ERRORS_SHOWN = 20
_UPN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class CsvRejected(ImportRejectedError):
    def __init__(self, path: str, problems: list[str]) -> None:
        shown = problems[:MAX_ERRORS_SHOWN]
        more = len(problems) - len(shown)
        text = "\n".join(f"  {p}" for p in shown) + (f"\n  … and {more} more" if more > 0 else "")
        super().__init__(f"{path}: {len(problems)} problem(s); nothing was imported\n{text}")
        self.problems = problems


def read_people_csv(path: Path) -> Iterator[NewPerson]:
    """The people in the file at ``path``, read row by row; CsvRejected after the last one when any row (or
    the file) has a problem — a caller that stages them writes nothing then."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            yield from _people(f, str(path))
    except OSError as e:
        raise CsvRejected(str(path), [f"cannot read the file: {e.strerror}"]) from None
    except UnicodeDecodeError:
        raw = path.read_bytes()  # only to say where: the file is not held in memory otherwise
        try:
            raw.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            line = raw[: e.start].count(b"\n") + 1
            raise CsvRejected(str(path), [f"line {line}: not UTF-8 text (byte 0x{raw[e.start]:02x}); "
                                          "save the file as UTF-8"]) from None
        raise


def parse_people_csv(text: str, name: str = "<csv>") -> Iterator[NewPerson]:
    return _people(io.StringIO(text, newline=""), name)


def _people(f: TextIO, name: str) -> Iterator[NewPerson]:
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(f.read(4096), delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    f.seek(0)
    reader = csv.reader(f, dialect)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise CsvRejected(name, ["line 1: the file is empty; expected a header row: upn,display_name"]) from None
    except csv.Error as e:
        raise CsvRejected(name, [f"line 1: {e}"]) from None
    problems = _check_header(header)
    if problems:
        raise CsvRejected(name, problems)
    seen_upn: dict[str, int] = {}
    seen_oid: dict[str, int] = {}
    last = reader.line_num
    try:
        for row in reader:
            line, last = last + 1, reader.line_num  # where the record starts: a quoted cell may span lines
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                problems.append(f"line {line}: {len(row)} fields, the header has {len(header)}")
                continue
            rec = {h: c.strip() for h, c in zip(header, row, strict=True)}
            person, why = _person(rec)
            if why:
                problems.append(f"line {line}: {why}")
                continue
            assert person is not None
            key = normalise_upn(person.upn)
            if key in seen_upn:
                problems.append(f"line {line}: duplicate UPN {person.upn} (first on line {seen_upn[key]})")
                continue
            seen_upn[key] = line
            if person.object_id:
                if person.object_id in seen_oid:
                    problems.append(f"line {line}: duplicate object_id {person.object_id} "
                                    f"(first on line {seen_oid[person.object_id]})")
                    continue
                seen_oid[person.object_id] = line
            if not problems:
                yield person
    except csv.Error as e:
        problems.append(f"line {reader.line_num}: {e}")
    if problems:
        raise CsvRejected(name, problems)


def _check_header(header: list[str]) -> list[str]:
    problems = []
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        problems.append(f"line 1: header lacks {', '.join(missing)}; expected columns "
                        f"{', '.join(REQUIRED)} and optionally {', '.join(OPTIONAL)}")
    unknown = [c for c in header if c not in REQUIRED + OPTIONAL + EXPORTED]
    if unknown:
        problems.append(f"line 1: unknown column(s) {', '.join(unknown)}")
    dupes = sorted({c for c in header if header.count(c) > 1})
    if dupes:
        problems.append(f"line 1: column(s) {', '.join(dupes)} appear twice")
    return problems


def _person(rec: dict[str, str]) -> tuple[NewPerson | None, str]:
    upn = rec.get("upn", "")
    if not upn:
        return None, "upn is empty"
    unsafe = person_problems(upn, rec.get("display_name", ""), rec.get("key_serial"))
    if unsafe:
        return None, "; ".join(unsafe)
    if not _UPN.match(upn):
        return None, f"upn {upn!r} is not a user principal name (name@domain)"
    object_id = rec.get("object_id") or None
    if object_id and not _GUID.match(object_id):
        return None, f"object_id {visible(repr(object_id[:64]))} is not a GUID"
    priority = 0
    if rec.get("priority"):
        try:
            priority = int(rec["priority"])
        except ValueError:
            return None, f"priority {visible(repr(rec['priority'][:32]))} is not a whole number"
    language = rec.get("preferred_language") or None
    if language and not is_language_tag(language):
        return None, (f"preferred_language {visible(repr(language[:40]))} is not a language tag "
                      "(such as de-DE, fr or nl-BE)")
    return NewPerson(upn=upn, display_name=rec.get("display_name", ""), object_id=object_id,
                     key_serial=rec.get("key_serial") or None, source="csv", priority=priority,
                     preferred_language=language), ""
