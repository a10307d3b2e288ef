"""The technician's screen in the station's language ([station] language): the header, the cards, the panels,
the event log, the footer, the remedies a failed card shows, the help and the fleet screens, with nothing left
in English."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from dashboard_steps import claimed, done, make_app, touch
from fake_source import T0, FakeSource, status
from pilot_wait import drained, screen_text, wait_for
from support.catalogs import messages_from
from textual.pilot import Pilot

from station.cli import main
from station.enroll.reasons import REMEDIES, remedy_for
from station.errors import Reason
from station.events import EnrolmentFailed, Event, StepChanged
from station.i18n import LANGUAGES, SOURCE_LANGUAGE, speak, spoken, translations
from station.tui.screens.fleet import FleetScreen
from station.tui.screens.help import HelpScreen

SnapCompare = Callable[..., bool]
TRANSLATED = [lang for lang in LANGUAGES if lang != SOURCE_LANGUAGE]
# Where the technician's words live (the letters' are checked in tests/unit/test_catalogs.py).
SCREEN_SOURCES = ("station/tui/", "station/status.py", "station/rollout.py", "station/enroll/reasons.py")


@pytest.fixture
def station_speaks() -> Iterator[Callable[[str], None]]:
    """Set the station's language as `station kiosk` does from its configuration; English again afterwards."""
    before = speak(SOURCE_LANGUAGE)

    def station_language(language: str) -> None:
        speak(language)

    yield station_language
    speak(before)


def timed_out(slot: str, eid: int, upn: str, name: str, *, at: float) -> list[Event]:
    """A key nobody touched: the engine's remedy, in the language the station speaks when the key fails."""
    return [*claimed(slot, eid, upn, name, at=at), *touch(slot, eid, at=at + 2),
            StepChanged(slot=slot, enrolment_id=eid, step="failed", at=at + 40),
            EnrolmentFailed(slot=slot, enrolment_id=eid, upn=upn, reason=Reason.TOUCH_TIMEOUT.value,
                            message="the key was not touched in time", retryable=True,
                            remedy=remedy_for(Reason.TOUCH_TIMEOUT), at=at + 40)]


def three_outcomes() -> list[Event]:
    """USB 1-1 waiting for a touch, USB 1-2 failed (touch timeout), NFC done."""
    return [*claimed("USB 1-1", 1, "ada@contoso.com", "Ada Lovelace", at=T0), *touch("USB 1-1", 1, at=T0 + 5),
            *timed_out("USB 1-2", 2, "grace@contoso.com", "Grace Hopper", at=T0 + 10),
            *claimed("NFC 0", 3, "alan@contoso.com", "Alan Turing", at=T0 + 30, transport="nfc"),
            *touch("NFC 0", 3, at=T0 + 33), *done("NFC 0", 3, "alan@contoso.com", "Alan Turing", at=T0 + 40)]


def after(source: FakeSource, events: Callable[[], list[Event]]) -> Callable[[Pilot[Any]], Awaitable[None]]:
    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.app.workers.wait_for_complete()
        await drained(pilot)
        source.emit(*events())
        await drained(pilot)

    return run_before


def english_left(text: str, language: str) -> list[str]:
    """The technician's English messages (those the language words differently) found in ``text`` as words of
    their own. The engine's messages (a failure's first line) are not in the catalogs: they stay English, as in
    the station's log."""
    tr, found = translations(language), []
    own_words = " ".join(tr.gettext(i) for m in messages_from("station/") for i in forms(m))
    for message in messages_from(*SCREEN_SOURCES):
        for msgid in forms(message):
            if tr.gettext(msgid) == msgid:
                continue
            for piece in re.split(r"\{\w+\}", msgid):
                piece = piece.strip(" ·:,()")
                if len(piece) >= 4 and shown_as_word(piece, text) and not shown_as_word(piece, own_words):
                    found.append(piece)  # (an English word the language uses too, as Dutch "reset", is fine)
    return found


def forms(message: str | tuple[str, ...]) -> tuple[str, ...]:
    """A message's id, or its singular and plural."""
    return message if isinstance(message, tuple) else (message,)


def shown_as_word(piece: str, text: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(piece)}(?![\w-])", text) is not None  # not in a name as kiosk-01


def test_the_german_screen_at_120_by_36(snap_compare: SnapCompare, station_speaks: Callable[[str], None]) -> None:
    """Header, cards (FERTIG and the touch prompt in block letters), the remedy, the rollout, throughput and
    Entra panels and the footer, in German."""
    station_speaks("de")
    source = FakeSource(status(state="working"))
    assert snap_compare(make_app(source), run_before=after(source, three_outcomes), terminal_size=(120, 36))


@pytest.mark.parametrize("language", TRANSLATED)
async def test_nothing_on_the_screen_is_left_in_english(language: str,
                                                        station_speaks: Callable[[str], None]) -> None:
    station_speaks(language)
    source = FakeSource(status(state="working"))
    app = make_app(source)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: "132" in screen_text(app), "the station's status")
        source.emit(*three_outcomes())
        await wait_for(pilot, lambda: "Alan Turing" in screen_text(app) and "Grace Hopper" in screen_text(app),
                       "the three cards")
        await drained(pilot)
        text = screen_text(app)
        for key, screen in (("question_mark", HelpScreen), ("f", FleetScreen)):
            await pilot.press(key)
            await wait_for(pilot, lambda s=screen: isinstance(app.screen, s), screen.__name__)  # type: ignore[misc]
            await drained(pilot)
            assert english_left(screen_text(app), language) == [], screen_text(app)
            await pilot.press("escape")
            await wait_for(pilot, lambda s=screen: not isinstance(app.screen, s), f"{screen.__name__} closed")  # type: ignore[misc]
    tr = translations(language)
    remedy = remedy_for(Reason.TOUCH_TIMEOUT)
    assert remedy != REMEDIES[Reason.TOUCH_TIMEOUT]
    assert f"→ {remedy[:25]}" in text, "the remedy in the station's language"
    assert tr.gettext("Queue") in text and tr.gettext("Throughput") in text
    left = english_left(text, language)
    assert left == [], [line for line in text.splitlines() if any(w in line for w in left)] + left


def test_the_station_language_comes_from_the_configuration_and_ends_with_the_command(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`station fleet` on a German station says its rollout in German; the next command is English again."""
    config = tmp_path / "station.toml"
    config.write_text(f'[station]\nlanguage = "de"\n[store]\nurl = "sqlite:///{tmp_path / "station.db"}"\n')
    assert main(["--config", str(config), "fleet"]) == 0
    out = capsys.readouterr().out
    assert "Einführung: 0 von 0 fertig" in out and "rollout:" not in out
    assert spoken() == SOURCE_LANGUAGE
    assert main(["--store", f"sqlite:///{tmp_path / 'station.db'}", "fleet"]) == 0
    assert "rollout: 0 of 0 done" in capsys.readouterr().out
