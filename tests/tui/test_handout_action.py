"""The dashboard's hand-out action driven through Textual's Pilot with a fake station: ``h`` asks whom (from
the list, or a UPN typed in full), then asks for a confirmation, and only then sends ``handout``; saying no
sends nothing; a refusal shows its message and remedy; a read-only dashboard refuses with the read-only note
and asks nothing."""

from __future__ import annotations

from typing import Any

from dashboard_steps import make_app
from fake_source import FakeSource
from pilot_wait import Notes, wait_for
from textual.pilot import Pilot
from textual.widgets import OptionList

from station.errors import ConfigError
from station.tui.app import READ_ONLY_NOTE
from station.tui.screens.find_person import FindPersonScreen
from station.tui.screens.keys import KeyConfirmScreen

SIZE = (100, 36)
NO_ESCROW = ConfigError("hand-outs seal each TAP to the escrow key, and enrolment.escrow_public_key is not set",
                        remedy="Create a key pair with 'station pins keygen --out DIR' and set "
                               "enrolment.escrow_public_key to its public half.")


class HandoutSource(FakeSource):
    """The fake station, handing keys out as the daemon does (the person leaves the queue)."""

    def __init__(self, *, read_only: bool = False, refuse: ConfigError | None = None) -> None:
        super().__init__(read_only=read_only)
        self.refuse = refuse

    def command(self, cmd: str, **args: Any) -> dict[str, Any]:
        if cmd != "handout":
            return super().command(cmd, **args)
        self.commands.append((cmd, args))
        if self.refuse is not None:
            raise self.refuse
        self.people[args["upn"]] = "skipped"
        return {"ok": True, "handout": {"upn": args["upn"], "state": "handed_out", "tap_expires_at": 1.8e9}}


def screen_text(pilot: Pilot[int]) -> str:
    return "\n".join(strip.text for strip in pilot.app.screen._compositor.render_strips())


async def pick(pilot: Pilot[int], typed: str) -> None:
    """Press h, type part of a name, and choose the one match."""
    await wait_for(pilot, lambda: "132" in screen_text(pilot), "the station's status")
    await pilot.press("h")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, FindPersonScreen), "the find-person screen")
    assert "Hand a key out to whom?" in screen_text(pilot)
    await pilot.press(*typed)
    await wait_for(pilot, lambda: pilot.app.screen.query_one(OptionList).option_count == 1, f"one match for {typed}")
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, KeyConfirmScreen), "the confirmation")


async def test_h_hands_a_key_out_after_choosing_the_person_and_confirming() -> None:
    source = HandoutSource()
    notes = Notes()
    async with make_app(source).run_test(size=SIZE, message_hook=notes) as pilot:
        await pick(pilot, "gra")
        question = screen_text(pilot)
        assert "Hand a key out to grace@contoso.com?" in question and "Temporary Access Pass" in question
        assert source.commands == [], "nothing is sent before the confirmation"
        await pilot.press("y")
        await wait_for(pilot, lambda: any("grace@contoso.com: key handed out" in n for n in notes), "the answer")
        assert source.commands == [("handout", {"upn": "grace@contoso.com"})]
        assert "station handout letters" in notes[-1]
        assert source.people["grace@contoso.com"] == "skipped"


async def test_saying_no_hands_nothing_out() -> None:
    source = HandoutSource()
    async with make_app(source).run_test(size=SIZE) as pilot:
        await pick(pilot, "ada")
        await pilot.press("n")
        await wait_for(pilot, lambda: not isinstance(pilot.app.screen, KeyConfirmScreen), "the confirmation gone")
        await pilot.press("h")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, FindPersonScreen), "the find-person screen")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(pilot.app.screen, FindPersonScreen), "the question gone")
        await pilot.pause(0.2)
        assert source.commands == []


async def test_a_refused_handout_shows_the_message_and_its_remedy() -> None:
    source = HandoutSource(refuse=NO_ESCROW)
    notes = Notes()
    async with make_app(source).run_test(size=SIZE, message_hook=notes) as pilot:
        await pick(pilot, "alan")
        await pilot.press("y")
        await wait_for(pilot, lambda: any("escrow_public_key is not set" in n for n in notes), "the refusal")
        refusal = next(n for n in notes if "escrow_public_key is not set" in n)
        assert "→ Create a key pair with 'station pins keygen --out DIR'" in refusal
        assert source.commands == [("handout", {"upn": "alan@contoso.com"})]


async def test_a_read_only_dashboard_refuses_without_asking() -> None:
    source = HandoutSource(read_only=True)
    notes = Notes()
    async with make_app(source, mode="monitor").run_test(size=SIZE, message_hook=notes) as pilot:
        await wait_for(pilot, lambda: "132" in screen_text(pilot), "the station's status")
        await pilot.press("h")
        await wait_for(pilot, notes.seen(READ_ONLY_NOTE, times=1), "the read-only note")
        assert not isinstance(pilot.app.screen, FindPersonScreen)
        assert source.commands == []
