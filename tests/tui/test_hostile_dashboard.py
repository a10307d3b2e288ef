"""The dashboard with hostile names (tests/hostile_text.py) everywhere it shows one: the idle prompt's next up,
key cards (name, UPN, key model, slot, failure message), the queue panel, the event log, find-person, a
notification, the quit confirmation and the fleet screen. Each is shown as written — ``Smith [Contractor]``
keeps its brackets, markup is never interpreted (no MarkupError) — and no control character reaches the
terminal: ESC, C1 and bidi characters appear as escapes."""

from __future__ import annotations

from dashboard_steps import NOW, make_app
from fake_source import T0, FakeSource, fleet, slot, station, status
from hostile_text import ALL, CONTROL, LONG, PRINTABLE, assert_terminal_safe
from pilot_wait import Notes, screen_text, wait_for

from station.events import EnrolmentFailed, KeyAttached, KeyInspected, PersonClaimed, StatusNote
from station.tui.app import StationApp
from station.tui.screens.find_person import FindPersonScreen
from station.tui.screens.fleet import FleetScreen
from station.tui.screens.quit_confirm import QuitConfirmScreen

SIZE = (160, 60)
NAMES = list(ALL.items())


def hostile_status() -> dict[str, object]:
    return status(next_up=[{"upn": f"next-{i}@contoso.example", "display_name": name}
                           for i, (_, name) in enumerate(NAMES)],
                  summary="idle · " + CONTROL["osc52_clipboard"],
                  station={"id": "st-1", "name": "Desk\x1b[2J", "version": "0.1", "pid": 1, "language": "en"})


def alive(app: StationApp) -> bool:
    return app.is_running and app._exception is None


def safe(app: StationApp, where: str) -> str:
    shown = screen_text(app)
    assert_terminal_safe(shown, where)
    assert alive(app), f"the dashboard stopped at {where}"
    return shown


async def test_hostile_names_are_shown_as_written_and_no_control_reaches_the_terminal() -> None:
    source = FakeSource(hostile_status())
    source.people.update({f"p{i}@contoso.example": "queued" for i in range(len(NAMES))})
    notes = Notes()
    app = make_app(source)
    async with app.run_test(size=SIZE, message_hook=notes) as pilot:
        await wait_for(pilot, lambda: "Next up:" in screen_text(app), "the idle prompt")
        first = NAMES[0][1]
        shown = safe(app, "the idle prompt")
        assert f"Next up: {first} (next-0@contoso.example)" in shown  # "Smith [Contractor]" as written
        assert "Desk\\x1b[2J" in shown  # the header's line is built from the model: the daemon's summary is not shown

        events = []
        for i, (key, name) in enumerate(NAMES[:8]):
            where = f"USB {i}\x1b]52;c;AAAA\x07" if key == "osc52_clipboard" else f"USB {i}"
            events += [KeyAttached(slot=where, transport="usb", fingerprint=f"fp-{i}", at=T0 + i),
                       KeyInspected(slot=where, model="Yubi\x1b[31mKey \u202eNFC", aaguid="0" * 32, at=T0 + i),
                       PersonClaimed(slot=where, enrolment_id=i, upn=f"p{i}@contoso.example", display_name=name,
                                     at=T0 + i)]
        events.append(EnrolmentFailed(slot="USB 0", enrolment_id=0, upn="p0@contoso.example",
                                      reason="graph_denied", message="Graph said: " + PRINTABLE["markup"],
                                      remedy="Check [red]this[/]\x1b[2J", retryable=False, at=NOW))
        events.append(StatusNote(level="warning", message="note for " + CONTROL["newline_forged_log"], at=NOW))
        source.emit(*events)
        await wait_for(pilot, lambda: "USB 7" in screen_text(app), "the eighth card")
        shown = safe(app, "the key cards")
        assert "Smith [Contractor]" in shown and "Eve [/] [/bold]" in shown
        assert "Yubi\\x1b[31mKey \\u202eNFC" in shown
        assert "Check [red]this[/]\\x1b[2J" in shown
        assert "note for Ann\\n<0>station.enroll: forged entry" in screen_text(app).replace("\n", "")

        await pilot.press("slash")
        await wait_for(pilot, lambda: isinstance(app.screen, FindPersonScreen), "find-person")
        await wait_for(pilot, lambda: "Smith [Contractor]" in screen_text(app), "the people list")
        safe(app, "find-person")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, FindPersonScreen), "find-person closed")

        app._show_person(f"next-{len(NAMES) - 1}@contoso.example")  # the 10 kB name, not at a key
        app._show_person("nobody\x1b[2J@contoso.example")
        await wait_for(pilot, lambda: len(notes) >= 2, "two notifications")
        safe(app, "the notifications")
        assert any(note.startswith(LONG[:50]) for note in notes)
        assert "nobody\\x1b[2J@contoso.example has not been seen" in notes[-1]

        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(app.screen, QuitConfirmScreen), "the quit confirmation")
        shown = safe(app, "the quit confirmation")
        assert "USB 1: " + PRINTABLE["markup"] in shown
        await pilot.press("n")
        await wait_for(pilot, lambda: not isinstance(app.screen, QuitConfirmScreen), "the confirmation closed")

        source.fleet_view = fleet(station("desk\x1b[2J", "[bold]Front[/]", "host\u202e", age=3.0,
                                          slots=[slot("USB 1-1\x9b2J", "touch", "smith[/]@contoso.example", 7)]))
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(app.screen, FleetScreen) and "desk" in screen_text(app),
                       "the fleet")
        shown = safe(app, "the fleet screen")
        assert "desk\\x1b[2J" in shown and "[bold]Front[/]" in shown and "smith[/]" in shown
        await pilot.press("escape")
        assert alive(app)
