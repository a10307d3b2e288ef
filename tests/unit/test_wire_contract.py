"""The control protocol's JSON, as the dashboard of another process and `station status --json` read it: the
status snapshot's fields and types and every event's ``to_dict()``, held against a golden file
(tests/unit/golden/wire.json). A field may be added within one SNAPSHOT_VERSION, never renamed or removed:
when this test fails for an addition, add the field to the golden file by hand; for anything else, raise
SNAPSHOT_VERSION (or the protocol version) and say so in the release notes."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from support.wire_shape import describe, shape_problems

from station.events import Event, PinShown, event_from_dict, event_kinds
from station.wire import SNAPSHOT_VERSION, SessionSnapshot, StatusSnapshot

GOLDEN = Path(__file__).parent / "golden" / "wire.json"
SAMPLE_VALUES = {"str": "text", "int": 7, "float": 1.5, "bool": True, "int | None": 7, "str | None": "text"}
AT = 1_700_000_000.0


def sample(cls: type[Event]) -> Event:
    """One event of each kind with every field set to a fixed value of its type."""
    values = {f.name: SAMPLE_VALUES[str(f.type)] for f in fields(cls) if f.name != "at"}
    return cls(**values, at=AT)


def golden() -> dict[str, Any]:
    return json.loads(GOLDEN.read_text(encoding="utf-8"))


def test_the_status_snapshot_has_the_golden_fields_and_types() -> None:
    want = golden()
    assert want["snapshot_version"] == SNAPSHOT_VERSION
    assert describe(StatusSnapshot) == want["status_snapshot"]


def test_every_event_serialises_as_the_golden_json() -> None:
    want = golden()["events"]
    have = {kind: sample(cls).to_dict() for kind, cls in sorted(event_kinds().items())}
    assert sorted(have) == sorted(want), "an event kind was added or removed"
    for kind in have:
        assert have[kind] == want[kind], kind


def test_a_shown_pin_never_reaches_the_wire() -> None:
    assert PinShown(slot="USB 1", enrolment_id=1, pin="12345678").to_dict()["pin"] == "***"


@pytest.mark.parametrize("kind", sorted(event_kinds()))
def test_every_event_reads_back_from_its_json(kind: str) -> None:
    event = sample(event_kinds()[kind])
    assert event_from_dict(json.loads(json.dumps(event.to_dict()))) == (
        event if kind != "PinShown" else PinShown(slot="text", enrolment_id=7, pin="***", at=AT))


@pytest.mark.parametrize(("data", "words"), [
    ({"kind": "KeyMelted", "slot": "USB 1"}, "unknown event kind 'KeyMelted'"),
    ({"slot": "USB 1"}, "unknown event kind None"),
    ({"kind": "KeyRemoved"}, "KeyRemoved event without its 'slot'"),
    ({"kind": "PersonClaimed", "slot": "USB 1", "enrolment_id": "7", "upn": "a@b", "display_name": "A"},
     "'enrolment_id' is str, not int"),
    ({"kind": "IntakeChanged", "paused": 1}, "'paused' is int, not bool"),
])
def test_an_event_that_breaks_the_contract_is_refused_by_name(data: dict[str, Any], words: str) -> None:
    with pytest.raises(ValueError, match=words.replace("(", r"\(")):
        event_from_dict(data)


def test_an_event_from_a_newer_station_keeps_what_this_one_knows() -> None:
    event = event_from_dict({"kind": "KeyRemoved", "slot": "USB 1", "at": AT, "speed": "fast"})
    assert event.to_dict() == {"kind": "KeyRemoved", "slot": "USB 1", "at": AT}


def test_the_shape_check_finds_a_renamed_missing_or_mistyped_field() -> None:
    good: dict[str, Any] = {
        "slot": "USB 1", "transport": "usb", "fingerprint": "fp", "step": "touch", "model": "K", "upn": None,
        "display_name": None, "enrolment_id": 3, "outcome": None, "reason": None, "message": None,
        "remedy": None, "started": AT, "ended": None}
    assert shape_problems(good, SessionSnapshot) == []
    bad = {**good, "enrolment": good["enrolment_id"], "started": "now"}
    del bad["enrolment_id"]
    assert shape_problems(bad, SessionSnapshot) == [
        "$.enrolment_id: missing", "$.enrolment: not in SessionSnapshot", "$.started: 'now' is not float"]
