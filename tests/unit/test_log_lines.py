"""The daemon's log (station/logsetup.py) with hostile names in it: every journal line starts with the record's
own priority, a name's newline or ESC cannot start a line or a priority of its choosing, and JSON lines stay
one valid object per line with the name intact."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator

import pytest
from hostile_text import ALL, CONTROL, assert_terminal_safe

from station.logsetup import setup_logging

FORGED = CONTROL["newline_forged_log"]  # "Ann\n<0>station.enroll: forged entry"
RECORD_LINE = re.compile(r"^<[0-7]>[a-z_.]+: ")
CONTINUATION = re.compile(r"^<[0-7]>  ")


@pytest.fixture
def stderr(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[], str]]:
    """What the daemon's log handler writes (it writes to sys.stderr, which capsys holds during the test)."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    yield lambda: capsys.readouterr().err
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def log_everything(log: logging.Logger) -> None:
    for name in ALL.values():
        log.info("claimed %s for %r (%d)", name, name, 3)
        log.warning(f"written into the message: {name}")
    try:
        raise ValueError(f"no such user {FORGED}")
    except ValueError:
        log.exception("lookup failed for %s", FORGED)


def test_journal_lines_cannot_be_forged_by_a_name(stderr: Callable[[], str]) -> None:
    setup_logging()
    log_everything(logging.getLogger("station.enroll"))
    text = stderr()
    assert_terminal_safe(text, "the journal output")
    lines = text.splitlines()
    for line in lines:
        assert RECORD_LINE.match(line) or CONTINUATION.match(line), f"a line nobody logged: {line!r}"
    assert not [line for line in lines if line.startswith("<0>")], "a name chose its own priority"
    assert "<6>station.enroll: claimed Ann\\n<0>station.enroll: forged entry for 'Ann\\n<0>station.enroll" in text
    assert "<4>station.enroll: written into the message: Ann\n<4>  <0>station.enroll: forged entry" in text
    assert "<3>  ValueError: no such user Ann\n<3>  <0>station.enroll: forged entry" in text
    assert "Wipe\\x1b[2J\\x1b[HScreen" in text and "Dave\\u202egnp.exe" in text


def test_json_lines_stay_one_valid_object_each_with_the_name_shown(stderr: Callable[[], str]) -> None:
    setup_logging(json_lines=True)
    log_everything(logging.getLogger("station.enroll"))
    text = stderr()
    assert_terminal_safe(text, "the JSON log")
    entries = [json.loads(line) for line in text.splitlines()]
    assert len(entries) == 2 * len(ALL) + 1
    assert entries[0]["msg"] == "claimed Smith [Contractor] for 'Smith [Contractor]' (3)"
    assert "written into the message: Ann\\n<0>station.enroll: forged entry" in [e["msg"] for e in entries]
    assert entries[-1]["exc"].endswith("ValueError: no such user Ann\n<0>station.enroll: forged entry")
