"""The dashboard driven through Textual's Pilot with a fake station: every binding and every state change.

Events, status reads and command answers reach the app from other threads; each step waits (``wait_for``)
for what the screen must show, rather than for a fixed pause.
"""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path

from dashboard_steps import NOW, claimed, done, make_app, three_keys, throttled, touch
from fake_source import T0, FakeSource, status
from pilot_wait import Notes, wait_for
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Input, OptionList

from station.events import (
    EnrolmentFailed,
    IntakeChanged,
    KeyAttached,
    KeyRejected,
    KeyRemoved,
    PinShown,
    StatusNote,
    StepChanged,
)
from station.tui.app import READ_ONLY_NOTE, StationApp
from station.tui.log_capture import captured_logs
from station.tui.screens.find_person import FindPersonScreen
from station.tui.screens.help import HelpScreen
from station.tui.screens.quit_confirm import QuitConfirmScreen
from station.tui.widgets.banner import Banner
from station.tui.widgets.card_deck import CardDeck, IdlePrompt
from station.tui.widgets.event_log import EventLog
from station.tui.widgets.slot_card import SlotCardView
from station.tui.widgets.station_bar import StationBar

SIZE = (100, 36)


async def started(pilot: Pilot[int]) -> None:
    """Wait for the first status read to be on the screen."""
    await wait_for(pilot, lambda: "132" in on_screen(pilot.app, "#queue"), "the station's status")  # type: ignore[arg-type]


def card(app: StationApp, slot: str) -> SlotCardView:
    return app.query_one(CardDeck).views[slot]


def on_screen(app: StationApp, selector: str | Widget | None = None) -> str:
    """The characters the terminal shows (within one widget's region, when given)."""
    strips = app.screen._compositor.render_strips()
    if selector is None:
        return "\n".join(strip.text for strip in strips)
    widget = app.screen.query_one(selector) if isinstance(selector, str) else selector
    r = widget.region
    return "\n".join(strip.crop(r.x, r.right).text for strip in strips[r.y:r.bottom])


def text_of(view: SlotCardView) -> str:
    return on_screen(view.app, view)  # type: ignore[arg-type]


def card_text(app: StationApp, slot: str) -> str:
    return text_of(card(app, slot))


def log_of(app: StationApp) -> str:
    """The event log's text, its wrapped lines joined again."""
    return " ".join(" ".join(line.text for line in app.query_one("#log", EventLog).lines).split())


async def test_idle_station_shows_queue_totals_and_who_is_next() -> None:
    source = FakeSource()
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        assert source.subscribers == 1
        await wait_for(pilot, lambda: "✔ token ok" in on_screen(app, "#entra"), "the Entra ID health")
        prompt = app.query_one(IdlePrompt)
        await wait_for(pilot, lambda: "Next up: Ada Lovelace (ada@contoso.com)" in on_screen(app, prompt),
                       "who is next")
        queue_text = on_screen(app, "#queue")
        assert "132 waiting" in queue_text and "41 of 175 done" in queue_text and "Ada Lovelace" in queue_text
        assert prompt.display and prompt.query_one(Banner).text == "INSERT A KEY"
    assert source.subscribers == 0


async def test_a_key_gets_a_card_that_follows_its_steps_and_leaves_with_the_key() -> None:
    source = FakeSource()
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        source.emit(KeyAttached(slot="USB 1-1", transport="usb", fingerprint="fp", at=T0))
        await wait_for(pilot, lambda: "checking the key" in card_text(app, "USB 1-1"), "the new key's card")
        view = card(app, "USB 1-1")
        assert not app.query_one(IdlePrompt).display
        source.emit(*claimed("USB 1-1", 1, "ada@contoso.com", "Ada Lovelace", at=T0)[1:])
        await wait_for(pilot, lambda: "ada@contoso.com" in text_of(view), "the claimed person")
        assert on_screen(app, view.query_one(".who")).strip() == "Ada Lovelace"
        assert on_screen(app, view.query_one(".upn")).strip() == "ada@contoso.com"
        assert view.border_title == "USB 1-1 · YubiKey 5 NFC"
        assert "✔ inspect › ● CLAIM › ○ PIN" in text_of(view)
        assert view.border_subtitle == "1:30"
        source.emit(StepChanged(slot="USB 1-1", enrolment_id=1, step="pin_set", at=T0 + 4))
        await wait_for(pilot, lambda: "✔ claim › ● PIN › ○ touch" in text_of(view), "the PIN step")
        source.emit(KeyRemoved(slot="USB 1-1", at=T0 + 5))
        await wait_for(pilot, lambda: not app.query(SlotCardView) and "Next up: Ada" in on_screen(app, "#cards"),
                       "the card gone and the idle prompt back")
        assert "USB 1-1" not in app.query_one(CardDeck).views
        assert app.query_one(IdlePrompt).display


async def test_touch_prompt_appears_while_presence_is_awaited_and_goes_after() -> None:
    source = FakeSource()
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        source.emit(*claimed("USB 1-1", 1, "ada@contoso.com", "Ada Lovelace", at=T0), *touch("USB 1-1", 1, at=T0 + 3))
        await wait_for(pilot, lambda: "touch the key's sensor now" in card_text(app, "USB 1-1"), "the touch prompt")
        view = card(app, "USB 1-1")
        assert view.has_class("-touch")
        assert view.query_one(Banner).text == "TOUCH THE KEY" and view.query_one(Banner).display
        assert "▀█▀ █▀█ █ █ █▀▀ █ █   ▀█▀ █ █ █▀▀   █ █ █▀▀ █ █" in text_of(view)
        source.emit(StepChanged(slot="USB 1-1", enrolment_id=1, step="registering", at=T0 + 9))
        await wait_for(pilot, lambda: "● REGISTER" in text_of(view), "the register step")
        assert not view.has_class("-touch") and not view.query_one(Banner).display
        assert "▀█▀ █▀█ █ █" not in text_of(view)


async def test_done_says_remove_the_key_with_the_persons_name() -> None:
    source = FakeSource()
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        source.emit(*claimed("USB 1-1", 1, "ada@contoso.com", "Ada Lovelace", at=T0),
                    *touch("USB 1-1", 1, at=T0 + 3), *done("USB 1-1", 1, "ada@contoso.com", "Ada Lovelace", at=T0 + 20))
        await wait_for(pilot, lambda: "✔ Done — remove the key" in card_text(app, "USB 1-1"), "the done card")
        await wait_for(pilot, lambda: "4 per hour (last 15 min)" in on_screen(app, "#throughput"), "the throughput")
        view = card(app, "USB 1-1")
        assert view.has_class("-done") and view.query_one(Banner).text == "DONE"
        assert "Ada Lovelace is enrolled" in text_of(view)
        assert view.border_subtitle == "0:22"


async def test_failure_shows_reason_and_remedy_and_a_refused_key_too() -> None:
    source = FakeSource()
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        source.emit(*claimed("USB 1-1", 1, "ada@contoso.com", "Ada Lovelace", at=T0),
                    *throttled("USB 1-1", 1, "ada@contoso.com", at=T0 + 10),
                    KeyAttached(slot="USB 1-2", transport="usb", fingerprint="fp-2", at=T0 + 12),
                    KeyRejected(slot="USB 1-2", reason="pin_already_set", message="YubiKey 5 already has a PIN",
                                remedy="Reset the key, or use a new one.", at=T0 + 13))
        await wait_for(pilot, lambda: "→ Reset the key, or use a new one." in card_text(app, "USB 1-2"),
                       "the refused key's card")
        await wait_for(pilot, lambda: "→ Wait a minute, then retry the person (r)." in card_text(app, "USB 1-1"),
                       "the failed card")
        failed = card(app, "USB 1-1")
        assert failed.has_class("-failed") and failed.query_one(Banner).text == "FAILED"
        assert "✘ Entra ID is throttling the station" in text_of(failed)
        assert "✘ REGISTER" in text_of(failed)
        refused = card(app, "USB 1-2")
        assert refused.has_class("-failed") and refused.query_one(Banner).text == "KEY REFUSED"
        assert "failed — Entra ID is throttling the station (graph_throttled)" in log_of(app)


async def test_pin_shows_only_when_published_and_disappears_with_the_key() -> None:
    source = FakeSource()
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        source.emit(*claimed("USB 1-1", 1, "ada@contoso.com", "Ada Lovelace", at=T0),
                    StepChanged(slot="USB 1-1", enrolment_id=1, step="pin_set", at=T0 + 3))
        await wait_for(pilot, lambda: "● PIN" in card_text(app, "USB 1-1"), "the PIN step")
        assert "PIN  " not in card_text(app, "USB 1-1")
        source.emit(PinShown(slot="USB 1-1", enrolment_id=1, pin="12345678", at=T0 + 4))
        await wait_for(pilot, lambda: "PIN  1234 5678" in card_text(app, "USB 1-1"), "the PIN")
        first = card(app, "USB 1-1")
        source.emit(KeyRemoved(slot="USB 1-1", at=T0 + 5), KeyAttached(slot="USB 1-1", transport="usb",
                                                                          fingerprint="other", at=T0 + 6))
        await wait_for(pilot, lambda: "checking the key" in card_text(app, "USB 1-1"), "the next key's card")
        assert "1234" not in card_text(app, "USB 1-1") and first not in app.query(SlotCardView)
        assert all("12345678" not in line.text for line in app.query_one("#log", EventLog).lines)


async def test_p_pauses_and_resumes_intake() -> None:
    source = FakeSource()
    app = make_app(source)
    notes = Notes()
    async with app.run_test(size=SIZE, message_hook=notes) as pilot:
        await started(pilot)
        await pilot.press("p")
        bar = app.query_one(StationBar)
        await wait_for(pilot, lambda: "⏸ PAUSED — new keys wait" in on_screen(app, bar), "the paused bar")
        await wait_for(pilot, lambda: "Intake paused: new keys wait" in notes, "the pause confirmed")
        assert source.commands == [("pause", {})]
        assert bar.has_class("-paused")
        assert app.query_one(IdlePrompt).query_one(Banner).text == "PAUSED"
        await pilot.press("p")
        await wait_for(pilot, lambda: "▶ RUNNING" in on_screen(app, bar), "the running bar")
        assert source.commands[-1] == ("resume", {})
        assert bar.has_class("-running")


async def test_a_key_inserted_while_paused_says_it_waits() -> None:
    source = FakeSource(status(paused=True, state="paused"))
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await wait_for(pilot, lambda: app.query_one(StationBar).has_class("-paused"), "the paused status")
        source.emit(KeyAttached(slot="USB 1-1", transport="usb", fingerprint="fp", at=T0))
        await wait_for(pilot, lambda: "⏸ waiting: intake is paused" in card_text(app, "USB 1-1"), "the waiting card")
        source.emit(IntakeChanged(paused=False, at=T0 + 1))
        await wait_for(pilot, lambda: "checking the key" in card_text(app, "USB 1-1"), "the key checked")


async def test_r_retries_the_selected_failed_card_chosen_by_a_click() -> None:
    source = FakeSource()
    source.people["ada@contoso.com"] = "failed"
    app = make_app(source)
    notes = Notes()
    async with app.run_test(size=SIZE, message_hook=notes) as pilot:
        await started(pilot)
        source.emit(*claimed("USB 1-1", 1, "ada@contoso.com", "Ada Lovelace", at=T0),
                    *throttled("USB 1-1", 1, "ada@contoso.com", at=T0 + 10))
        await wait_for(pilot, lambda: "→ Wait a minute, then retry" in card_text(app, "USB 1-1"), "the failed card")
        view = card(app, "USB 1-1")
        await pilot.click(view)
        await wait_for(pilot, lambda: app.focused is view, "the clicked card selected")
        await pilot.press("r")
        await wait_for(pilot, lambda: "ada@contoso.com is queued again" in notes, "the retry confirmed")
        assert source.commands == [("retry", {"upn": "ada@contoso.com"})]


async def test_r_without_a_selection_asks_whom_and_shows_a_refusal_with_its_remedy() -> None:
    source = FakeSource()
    app = make_app(source)
    notes = Notes()
    async with app.run_test(size=SIZE, message_hook=notes) as pilot:
        await started(pilot)
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, FindPersonScreen), "the find-person screen")
        await pilot.press(*"gra")
        await wait_for(pilot, lambda: app.screen.query_one(OptionList).option_count == 1, "one match for 'gra'")
        await pilot.press("enter")
        await wait_for(pilot, lambda: notes, "an answer to the retry")
        assert source.commands == [("retry", {"upn": "grace@contoso.com"})]
        refusal = notes[-1]
        assert "grace@contoso.com is queued; only failed or skipped people can be retried" in refusal
        assert "→ Check the person's state with 'station queue show UPN'." in refusal


async def test_s_skips_a_person_picked_from_the_list_with_the_mouse() -> None:
    source = FakeSource()
    app = make_app(source)
    notes = Notes()
    async with app.run_test(size=SIZE, message_hook=notes) as pilot:
        await started(pilot)
        await pilot.press("s")
        await wait_for(pilot, lambda: app.screen.query_one(OptionList).option_count == 3, "everyone to pick from")
        await pilot.click(OptionList, offset=(3, 2))
        await wait_for(pilot, lambda: any(n.endswith(" is skipped") for n in notes), "the skip confirmed")
        assert len(source.commands) == 1 and source.commands[0][0] == "skip"
        skipped = source.commands[0][1]["upn"]
        assert source.people[skipped] == "skipped"
        assert f"{skipped} is skipped" in notes


async def test_s_on_a_failed_card_skips_that_person() -> None:
    source = FakeSource()
    source.people["ada@contoso.com"] = "failed"
    app = make_app(source)
    notes = Notes()
    async with app.run_test(size=SIZE, message_hook=notes) as pilot:
        await started(pilot)
        source.emit(*claimed("USB 1-1", 1, "ada@contoso.com", "Ada Lovelace", at=T0),
                    EnrolmentFailed(slot="USB 1-1", enrolment_id=1, upn="ada@contoso.com", reason="user_not_found",
                                    message="Entra ID has no such user", remedy="Remove them from the queue.",
                                    retryable=False, at=T0 + 5))
        await wait_for(pilot, lambda: "→ Remove them from the queue." in card_text(app, "USB 1-1"), "the failed card")
        card(app, "USB 1-1").focus()
        await wait_for(pilot, lambda: app.focused is card(app, "USB 1-1"), "the card selected")
        await pilot.press("s")
        await wait_for(pilot, lambda: "ada@contoso.com is skipped" in notes, "the skip confirmed")
        assert source.commands == [("skip", {"upn": "ada@contoso.com"})]


async def test_slash_finds_a_person_at_a_key_and_selects_their_card() -> None:
    source = FakeSource()
    app = make_app(source)
    notes = Notes()
    async with app.run_test(size=SIZE, message_hook=notes) as pilot:
        await started(pilot)
        source.emit(*three_keys())
        await wait_for(pilot, lambda: "Alan Turing is enrolled" in card_text(app, "NFC ACS ACR122U 00 00"),
                       "the three keys")
        await pilot.press("slash")
        await wait_for(pilot, lambda: isinstance(app.screen, FindPersonScreen), "the find-person screen")
        assert app.screen.query_one(Input).has_focus
        await pilot.press(*"hop")
        await wait_for(pilot, lambda: app.screen.query_one(OptionList).option_count == 1, "one match for 'hop'")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.focused is card(app, "USB 1-2"), "Grace Hopper's card selected")
        await pilot.press("slash")
        await wait_for(pilot, lambda: isinstance(app.screen, FindPersonScreen), "the find-person screen")
        app.screen.query_one(Input).value = "nobody@contoso.com"
        await wait_for(pilot, lambda: app.screen.query_one(OptionList).option_count == 0, "no match")
        await pilot.press("enter")
        await wait_for(pilot, lambda: notes, "an answer to the search")
        assert "nobody@contoso.com has not been seen on this dashboard" in notes[-1]
        await wait_for(pilot, lambda: not isinstance(app.screen, FindPersonScreen), "the find-person screen gone")
        await pilot.press("slash")
        await wait_for(pilot, lambda: isinstance(app.screen, FindPersonScreen), "the find-person screen")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, FindPersonScreen), "the find-person screen gone")
        assert source.commands == []


async def test_question_mark_opens_help_and_escape_closes_it() -> None:
    app = make_app(FakeSource())
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: "pause or resume intake" in on_screen(app), "the help")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, HelpScreen), "the help closed")


async def test_q_quits_at_once_when_nothing_is_in_flight() -> None:
    source = FakeSource()
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        source.emit(*claimed("USB 1-1", 1, "ada@contoso.com", "Ada Lovelace", at=T0),
                    *done("USB 1-1", 1, "ada@contoso.com", "Ada Lovelace", at=T0 + 9))
        await wait_for(pilot, lambda: "✔ Done — remove the key" in card_text(app, "USB 1-1"), "the done card")
        await pilot.press("q")
        await wait_for(pilot, lambda: app.return_code == 0, "the app ended")
    assert app.return_code == 0


async def test_q_asks_while_enrolments_are_in_flight() -> None:
    source = FakeSource()
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        source.emit(*claimed("USB 1-1", 1, "ada@contoso.com", "Ada Lovelace", at=T0), *touch("USB 1-1", 1, at=T0 + 2))
        await wait_for(pilot, lambda: "touch the key's sensor now" in card_text(app, "USB 1-1"), "the touch prompt")
        await pilot.press("q")
        await wait_for(pilot, lambda: "Quitting stops the station and interrupts them." in on_screen(app),
                       "the quit question")
        assert isinstance(app.screen, QuitConfirmScreen)
        assert "USB 1-1: Ada Lovelace" in on_screen(app)
        await pilot.press("n")
        await wait_for(pilot, lambda: not isinstance(app.screen, QuitConfirmScreen), "the quit question gone")
        assert app.is_running and app.return_code is None
        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(app.screen, QuitConfirmScreen), "the quit question")
        await pilot.click("#quit")
        await wait_for(pilot, lambda: app.return_code == 0, "the app ended")
    assert app.return_code == 0


async def test_monitor_mode_read_only_refuses_commands_with_a_note() -> None:
    source = FakeSource(read_only=True)
    app = make_app(source, mode="monitor")
    notes = Notes()
    async with app.run_test(size=SIZE, message_hook=notes) as pilot:
        await started(pilot)
        assert "MONITOR · read-only" in on_screen(app, "#station-bar")
        for count, key in enumerate(("p", "r", "s"), start=1):
            await pilot.press(key)
            await wait_for(pilot, notes.seen(READ_ONLY_NOTE, times=count),
                           f"the read-only note after {key!r}")
            assert not isinstance(app.screen, FindPersonScreen)
        assert source.commands == []
        await pilot.press("q")
        await wait_for(pilot, lambda: app.return_code == 0, "the app ended")
    assert app.return_code == 0


async def test_an_unreachable_daemon_is_said_plainly_and_recovery_is_seen() -> None:
    source = FakeSource()
    app = make_app(source, mode="monitor")
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        source.unreachable = "no station daemon is listening on /run/station/control.sock"
        app.refresh_status()
        bar = app.query_one(StationBar)
        await wait_for(pilot, lambda: "✘ DAEMON UNREACHABLE" in on_screen(app, bar), "the daemon unreachable")
        assert bar.has_class("-down")
        source.unreachable = None
        source.emit(StatusNote(level="error", message="lost the connection to the station daemon", at=T0))
        app.refresh_status()
        await wait_for(pilot, lambda: "▶ RUNNING" in on_screen(app, bar), "the daemon back")
        assert bar.has_class("-running")
        log_text = log_of(app)
        assert "cannot read the station's status: no station daemon is listening" in log_text
        assert "lost the connection to the station daemon" in log_text


async def test_elapsed_time_advances_with_the_clock() -> None:
    now = [NOW]
    source = FakeSource()
    app = make_app(source)
    app.model.clock = lambda: now[0]
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        source.emit(*claimed("USB 1-1", 1, "ada@contoso.com", "Ada Lovelace", at=T0))
        await wait_for(pilot, lambda: "Ada Lovelace" in card_text(app, "USB 1-1"), "the claimed card")
        assert card(app, "USB 1-1").border_subtitle == "1:30"
        now[0] = NOW + 61
        await wait_for(pilot, lambda: card(app, "USB 1-1").border_subtitle == "2:31", "the elapsed time advanced")


async def test_log_records_go_to_the_event_log_and_a_file_not_over_the_screen(tmp_path: Path) -> None:
    root = logging.getLogger()
    terminal = logging.StreamHandler(sys.stderr)
    root.addHandler(terminal)
    level = root.level
    root.setLevel(logging.INFO)
    app = make_app(FakeSource())
    try:
        with captured_logs(app, tmp_path / "kiosk.log"):
            assert terminal not in root.handlers
            async with app.run_test(size=SIZE) as pilot:
                await started(pilot)
                logging.getLogger("station.x").info("only in the file")
                warner = threading.Thread(target=logging.getLogger("station.hid.nfc").warning,
                                          args=("NFC reader %s unplugged", "ACR122U"))
                warner.start()
                warner.join()
                await wait_for(pilot, lambda: "⚠ NFC reader ACR122U unplugged" in log_of(app), "the warning logged")
                assert "only in the file" not in log_of(app)
        assert terminal in root.handlers
        written = (tmp_path / "kiosk.log").read_text()
        assert "NFC reader ACR122U unplugged" in written and "only in the file" in written
    finally:
        root.removeHandler(terminal)
        root.setLevel(level)
