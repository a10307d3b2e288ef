"""What the idle dashboard asks of the technician when it cannot simply say "insert a key": the store cannot
be written (keys are refused), or everyone waiting waits for a key of their own."""

from __future__ import annotations

from dashboard_steps import make_app
from fake_source import FakeSource, status
from pilot_wait import wait_for

from station.tui.widgets.banner import Banner
from station.tui.widgets.card_deck import IdlePrompt

SIZE = (100, 36)
PROBLEM = "store not writable: disk full (0 KiB free) (/var/lib/station/station.db)"


def prompt_text(prompt: IdlePrompt) -> str:
    return f"{prompt.query_one(Banner).text} {prompt.query_one('.hint').render()}"


async def test_a_store_that_cannot_be_written_says_keys_are_refused() -> None:
    source = FakeSource(status(state="store not writable", store_problem=PROBLEM,
                               summary=f"{PROBLEM} · 132 queued · 41 enrolled today"))
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        prompt = app.query_one(IdlePrompt)
        await wait_for(pilot, lambda: "NO KEYS NOW" in prompt_text(prompt), "the refusal")
        text = prompt_text(prompt)
        assert PROBLEM in text and "Keys are refused" in text and "INSERT A KEY" not in text


async def test_people_waiting_for_their_own_keys_are_counted_not_nobody() -> None:
    queue = {"queued": 2, "claimed": 0, "enrolled": 0, "failed": 0, "skipped": 0}
    source = FakeSource(status(next_up=[], queue=queue, summary="idle · 2 queued · 0 enrolled today"))
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        prompt = app.query_one(IdlePrompt)
        await wait_for(pilot, lambda: "2 people wait" in prompt_text(prompt), "the count")
        assert "2 people wait for a key of their own (pre-assigned)" in prompt_text(prompt)
        assert "Nobody is waiting" not in prompt_text(prompt)
