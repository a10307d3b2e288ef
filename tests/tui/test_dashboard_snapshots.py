"""SVG snapshots of the dashboard (pytest-textual-snapshot) on a fixed clock, in UTC.

Idle, three keys at different stages, the touch prompt, a failure with its remedy, paused intake,
read-only monitor mode and the fleet screen. Review a changed picture, then accept it with
``pytest --snapshot-update``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest
from dashboard_steps import claimed, done, make_app, three_keys, throttled, touch
from fake_source import T0, FakeSource, status
from pilot_wait import drained, screen_text, wait_for
from textual.pilot import Pilot

from station.events import Event, KeyAttached, StepChanged
from station.tui.screens.fleet import FleetScreen

SnapCompare = Callable[..., bool]


def after(source: FakeSource, events: Sequence[Event]) -> Callable[[Pilot[Any]], Awaitable[None]]:
    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.app.workers.wait_for_complete()
        await drained(pilot)
        source.emit(*events)
        await drained(pilot)

    return run_before


def test_idle(snap_compare: SnapCompare) -> None:
    source = FakeSource()
    assert snap_compare(make_app(source), run_before=after(source, []), terminal_size=(80, 24))


def test_three_keys_in_different_stages(snap_compare: SnapCompare) -> None:
    source = FakeSource(status(state="working", summary="working · 2 keys · 129 queued · 42 enrolled today"))
    assert snap_compare(make_app(source), run_before=after(source, three_keys()), terminal_size=(140, 40))


def test_three_keys_at_80_by_24(snap_compare: SnapCompare) -> None:
    source = FakeSource(status(state="working", summary="working · 2 keys · 129 queued · 42 enrolled today"))
    assert snap_compare(make_app(source), run_before=after(source, three_keys()), terminal_size=(80, 24))


def test_touch_prompt(snap_compare: SnapCompare) -> None:
    source = FakeSource(status(state="working"))
    events = [*claimed("USB 1-1", 1, "ada@contoso.com", "Ada Lovelace", at=T0), *touch("USB 1-1", 1, at=T0 + 60)]
    assert snap_compare(make_app(source), run_before=after(source, events), terminal_size=(80, 24))


def test_long_name_and_upn_at_80_by_24(snap_compare: SnapCompare) -> None:
    """Name and UPN are two fields: each on its own line, cut with an ellipsis, never run together."""
    source = FakeSource(status(state="working"))
    name = "Maximiliane Alexandra Wilhelmina von Hohenberg-Schwarzenfels"
    upn = "maximiliane.alexandra.von.hohenberg-schwarzenfels@subsidiary.contoso.com"
    events = [*claimed("USB 1-1", 1, upn, name, at=T0), *touch("USB 1-1", 1, at=T0 + 60)]
    assert snap_compare(make_app(source), run_before=after(source, events), terminal_size=(80, 24))


ENROLMENT_STEPS = {
    "claimed": claimed("USB 1-1", 1, "ada@contoso.com", "Ada Lovelace", at=T0),
    "touch": [*claimed("USB 1-1", 1, "ada@contoso.com", "Ada Lovelace", at=T0), *touch("USB 1-1", 1, at=T0 + 5)],
    "done": [*claimed("USB 1-1", 1, "ada@contoso.com", "Ada Lovelace", at=T0), *touch("USB 1-1", 1, at=T0 + 5),
             *done("USB 1-1", 1, "ada@contoso.com", "Ada Lovelace", at=T0 + 20)],
}


@pytest.mark.parametrize("step", list(ENROLMENT_STEPS))
def test_header_card_and_panels_at_each_step(snap_compare: SnapCompare, step: str) -> None:
    """One enrolment at each step: the header's working/idle and key count, the queue panel's counts and the
    throughput agree with the card, though the station's snapshot was read before the key came."""
    source = FakeSource()
    assert snap_compare(make_app(source), run_before=after(source, ENROLMENT_STEPS[step]), terminal_size=(100, 30))


def test_one_key_on_a_large_terminal_gets_large_letters(snap_compare: SnapCompare) -> None:
    """Readable from two metres: one key alone takes the whole width, and TOUCH THE KEY grows with it."""
    source = FakeSource(status(state="working"))
    events = [*claimed("USB 1-1", 1, "ada@contoso.com", "Ada Lovelace", at=T0), *touch("USB 1-1", 1, at=T0 + 60)]
    assert snap_compare(make_app(source), run_before=after(source, events), terminal_size=(200, 60))


def test_failure_with_its_remedy(snap_compare: SnapCompare) -> None:
    source = FakeSource(status(entra={"last_latency_ms": 30012.0, "throttled": True, "token_ok": True,
                                      "last_error": "graph_throttled: too many requests"}))
    events = [*claimed("USB 1-1", 1, "ada@contoso.com", "Ada Lovelace", at=T0),
              *touch("USB 1-1", 1, at=T0 + 5), *throttled("USB 1-1", 1, "ada@contoso.com", at=T0 + 30)]
    assert snap_compare(make_app(source), run_before=after(source, events), terminal_size=(80, 24))


def test_paused(snap_compare: SnapCompare) -> None:
    source = FakeSource(status(paused=True, state="paused", summary="paused · 132 queued · 41 enrolled today"))
    events = [KeyAttached(slot="USB 1-3", transport="usb", fingerprint="fp-9", at=T0 + 70)]
    assert snap_compare(make_app(source), run_before=after(source, events), terminal_size=(80, 24))


def test_monitor_mode_read_only(snap_compare: SnapCompare) -> None:
    source = FakeSource(status(state="working", summary="working · 1 key · 131 queued · 41 enrolled today"),
                        read_only=True)
    events = [*claimed("NFC ACS ACR122U 00 00", 4, "grace@contoso.com", "Grace Hopper", at=T0 + 50, transport="nfc"),
              StepChanged(slot="NFC ACS ACR122U 00 00", enrolment_id=4, step="registering", at=T0 + 60)]
    app = make_app(source, mode="monitor")
    assert snap_compare(app, run_before=after(source, events), press=["p"], terminal_size=(100, 30))


def test_fleet_two_stations_alive_one_stale(snap_compare: SnapCompare) -> None:
    async def open_fleet(pilot: Pilot[Any]) -> None:
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, FleetScreen), "the fleet screen")
        await wait_for(pilot, lambda: "desk-3" in screen_text(pilot.app), "the fleet read")

    assert snap_compare(make_app(FakeSource()), run_before=open_fleet, terminal_size=(80, 24))
