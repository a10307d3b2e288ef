"""DashboardModel: status snapshots and events folded into cards, totals, throughput and the log (no Textual)."""

from __future__ import annotations

from datetime import UTC

import pytest
from dashboard_steps import NOW, claimed, done, three_keys, throttled, touch
from fake_source import T0, status

from station.errors import StationError
from station.events import (
    EnrolmentDone,
    Event,
    EventBus,
    KeyAttached,
    KeyPrepared,
    KeyRemoved,
    PinShown,
    StatusNote,
    event_from_dict,
)
from station.tui.model import SPARK_BUCKETS, DashboardModel, Outcome
from station.tui.source import EngineSource
from station.tui.widgets.slot_card import detail_text


def model_after(*events: Event, snapshot: dict[str, object] | None = None) -> DashboardModel:
    model = DashboardModel(clock=lambda: NOW, tz=UTC)
    if snapshot is not None:
        model.apply_snapshot(snapshot)
    for event in events:
        model.apply_event(event)
    return model


def test_snapshot_sets_totals_next_up_health_and_cards_for_running_sessions() -> None:
    snap = status(state="working", slots=[
        {"slot": "USB 1-1", "transport": "usb", "fingerprint": "fp", "step": "touch", "model": "YubiKey 5",
         "upn": "ada@contoso.com", "enrolment_id": 7, "outcome": "", "reason": "", "started": T0},
        {"slot": "USB 1-2", "transport": "usb", "fingerprint": "fp2", "step": "registering", "model": "K9",
         "upn": None, "enrolment_id": None, "outcome": "", "reason": "", "started": T0 + 10}])
    model = model_after(snapshot=snap)
    assert model.queue.queued == 132 and model.queue.skipped == 1 and model.today_enrolled == 41
    assert model.next_up[0] == ("ada@contoso.com", "Ada Lovelace")
    assert model.entra.token_ok is True and model.entra.last_latency_ms == 212.0
    ada = model.cards["USB 1-1"]
    assert ada.touch and ada.stage == 3 and ada.in_flight and ada.elapsed(NOW) == 90
    assert model.cards["USB 1-2"].stage == 4 and not model.cards["USB 1-2"].in_flight
    assert model.state == "working" and not model.paused


def test_finished_entries_only_update_cards_of_keys_still_present() -> None:
    finished = {"slot": "USB 1-9", "fingerprint": "gone", "step": "done", "outcome": "done", "upn": "x@y"}
    assert "USB 1-9" not in model_after(snapshot=status(finished=[finished])).cards
    model = model_after(*claimed("USB 1-1", 1, "ada@contoso.com", "Ada Lovelace", at=T0))
    model.apply_snapshot(status(finished=[{"slot": "USB 1-1", "fingerprint": "fp-1", "step": "failed",
                                           "outcome": "failed", "reason": "touch_timeout"}]))
    assert model.cards["USB 1-1"].outcome is Outcome.FAILED and model.cards["USB 1-1"].reason == "touch_timeout"


def test_steps_map_to_stages_and_touch_clears_after_the_touch() -> None:
    model = model_after(*claimed("USB 1-1", 1, "ada@contoso.com", "Ada Lovelace", at=T0), *touch("USB 1-1", 1, at=T0))
    card = model.cards["USB 1-1"]
    assert (card.stage, card.touch, card.step) == (3, True, "touch")
    model.apply_event(done("USB 1-1", 1, "ada@contoso.com", "Ada Lovelace", at=T0 + 9)[0])
    assert (card.stage, card.touch) == (4, False)


def test_done_freezes_elapsed_counts_throughput_and_logs() -> None:
    model = model_after(*claimed("USB 1-1", 1, "ada@contoso.com", "Ada Lovelace", at=T0),
                        *done("USB 1-1", 1, "ada@contoso.com", "Ada Lovelace", at=T0 + 20), snapshot=status())
    card = model.cards["USB 1-1"]
    assert card.outcome is Outcome.DONE and card.elapsed(NOW + 500) == 22 and not card.in_flight
    assert model.throughput_per_hour() == 4, "one key in the last 15 minutes is a pace of 4 per hour"
    assert model.today_enrolled == 42
    series = model.throughput_series()
    assert len(series) == SPARK_BUCKETS and series[-1] == 1 and sum(series) == 1
    assert [line.level for line in model.log][-1] == "success"


def test_a_done_card_says_which_pin_rule_the_key_could_not_enforce() -> None:
    note = "this key cannot force a PIN change — change it at first sign-in"
    model = model_after(*claimed("USB 1-1", 1, "ada@contoso.com", "Ada Lovelace", at=T0),
                        EnrolmentDone(slot="USB 1-1", enrolment_id=1, upn="ada@contoso.com",
                                      display_name="Ada Lovelace", note=note, at=T0 + 2))
    card = model.cards["USB 1-1"]
    assert card.outcome is Outcome.DONE and card.note == note
    assert note in detail_text(card).plain and "Done — remove the key" in detail_text(card).plain


def test_throughput_is_the_rate_over_the_last_15_minutes() -> None:
    model = model_after(*done("USB 1-1", 1, "a@x", "A", at=NOW - 1000), *done("USB 1-2", 2, "b@x", "B", at=NOW - 100))
    assert model.throughput_per_hour() == 4, "only the key done 100 s ago is within 15 minutes"
    assert model.throughput_series()[-1] == 1 and sum(model.throughput_series()) == 2


def test_throughput_counts_the_stations_own_pace_then_the_keys_done_since() -> None:
    model = model_after(snapshot=status(pace={"window_seconds": 900, "enrolled": 5}))
    assert model.throughput_per_hour() == 20
    for event in [*claimed("USB 1-1", 1, "a@x", "A", at=NOW - 30), *done("USB 1-1", 1, "a@x", "A", at=NOW - 20)]:
        model.apply_event(event)
    assert model.throughput_per_hour() == 24 and model.today_enrolled == 42


def test_totals_and_header_follow_the_cards_between_snapshots() -> None:
    """A claim, a finish and a failure move the queue counts and the header at once, before any new snapshot."""
    model = model_after(snapshot=status())
    assert (model.queue.queued, model.queue.claimed, model.display_state()) == (132, 0, "idle")
    for event in claimed("USB 1-1", 1, "ada@contoso.com", "Ada Lovelace", at=T0):
        model.apply_event(event)
    assert (model.queue.queued, model.queue.claimed) == (131, 1)
    assert model.header_summary().startswith("working · 1 key · 131 queued")
    for event in done("USB 1-1", 1, "ada@contoso.com", "Ada Lovelace", at=T0 + 10):
        model.apply_event(event)
    assert (model.queue.claimed, model.queue.enrolled, model.today_enrolled) == (0, 42, 42)
    assert model.header_summary().startswith("idle · 131 queued · 42 enrolled today")
    for event in [*claimed("USB 1-2", 2, "grace@contoso.com", "Grace Hopper", at=T0 + 20),
                  *throttled("USB 1-2", 2, "grace@contoso.com", at=T0 + 30)]:
        model.apply_event(event)
    assert (model.queue.queued, model.queue.claimed, model.today_failed) == (131, 0, 3)
    snap = status(queue={"queued": 131, "claimed": 0, "enrolled": 42, "failed": 2, "skipped": 1},
                  today={"enrolled": 42, "failed": 3},
                  finished=[{"slot": "USB 1-1", "enrolment_id": 1, "outcome": "done", "step": "done"}])
    model.apply_snapshot(snap)
    assert (model.queue.queued, model.queue.enrolled, model.today_enrolled, model.today_failed) == (131, 42, 42, 3)
    model.apply_event(EnrolmentDone(slot="USB 1-1", enrolment_id=1, upn="ada@contoso.com",
                                    display_name="Ada Lovelace", at=T0 + 12))
    assert model.queue.enrolled == 42, "an event the snapshot already counts is not counted twice"


def test_failure_keeps_reason_remedy_and_retryable() -> None:
    model = model_after(*claimed("USB 1-1", 1, "ada@contoso.com", "Ada Lovelace", at=T0),
                        *throttled("USB 1-1", 1, "ada@contoso.com", at=T0 + 5))
    card = model.cards["USB 1-1"]
    assert card.outcome is Outcome.FAILED and card.reason == "graph_throttled" and card.retryable
    assert card.remedy == "Wait a minute, then retry the person (r)." and card.stage == 4
    assert model.find_people("ada")[0].where == "failed"


def test_pin_is_kept_only_from_an_in_process_event_and_goes_with_the_key() -> None:
    shown = PinShown(slot="USB 1-1", enrolment_id=1, pin="12345678", at=T0)
    assert shown.to_dict()["pin"] == "***"
    over_socket = model_after(*claimed("USB 1-1", 1, "a@x", "A", at=T0))
    over_socket.apply_event(event_from_dict(shown.to_dict()))  # as the control socket sends it
    assert over_socket.cards["USB 1-1"].pin is None
    model = model_after(*claimed("USB 1-1", 1, "a@x", "A", at=T0), shown)
    assert model.cards["USB 1-1"].pin == "12345678"
    model.apply_event(KeyRemoved(slot="USB 1-1", at=T0 + 1))
    assert "USB 1-1" not in model.cards
    assert all("12345678" not in line.text for line in model.log)


def test_people_lists_those_seen_at_keys_first_then_who_is_next() -> None:
    model = model_after(*three_keys(), snapshot=status())
    assert [p.upn for p in model.people()][:3] == ["alan@contoso.com", "grace@contoso.com", "ada@contoso.com"]
    model = model_after(snapshot=status())
    assert [p.where for p in model.people()] == ["next up"] * 3
    assert [p.upn for p in model.find_people("HOP")] == ["grace@contoso.com"]


def test_notes_and_unreachable_are_logged_once() -> None:
    model = model_after(StatusNote(level="warning", message="NFC: reader unplugged", at=T0))
    model.source_unreachable("cannot read the station's status")
    model.source_unreachable("cannot read the station's status")
    assert [line.text for line in model.log] == ["NFC: reader unplugged", "cannot read the station's status"]
    assert model.clock_text(T0) == "22:13:20"
    model.apply_snapshot(status())
    assert model.reachable


class RecordingEngine:
    """The engine's control surface, recording what was asked of it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def pause_intake(self) -> None:
        self.calls.append(("pause", ""))

    def resume_intake(self) -> None:
        self.calls.append(("resume", ""))

    def retry_person(self, upn: str) -> dict[str, str]:
        self.calls.append(("retry", upn))
        return {"upn": upn, "state": "queued"}

    def skip_person(self, upn: str) -> dict[str, str]:
        self.calls.append(("skip", upn))
        return {"upn": upn, "state": "skipped"}

    def cancel_slot(self, slot: str) -> bool:
        self.calls.append(("cancel", slot))
        return slot == "USB 1-1"


def test_engine_source_delivers_bus_events_with_the_pin_and_runs_commands() -> None:
    bus, engine = EventBus(), RecordingEngine()
    source = EngineSource(engine, bus, lambda: status(state="idle"))
    seen: list[Event] = []
    unsubscribe = source.subscribe(seen.append)
    bus.publish(PinShown(slot="USB 1-1", enrolment_id=1, pin="87654321", at=T0))
    bus.flush()
    unsubscribe()
    bus.publish(StatusNote(level="info", message="after", at=T0))
    bus.flush()
    bus.close()
    assert seen == [PinShown(slot="USB 1-1", enrolment_id=1, pin="87654321", at=T0)]
    assert seen[0].pin == "87654321"  # in this process's memory (the dataclass leaves the PIN out of its repr)
    assert source.snapshot()["state"] == "idle" and not source.read_only
    assert source.command("pause") == {"ok": True}
    assert source.command("retry", upn="a@x")["person"] == {"upn": "a@x", "state": "queued"}
    assert source.command("cancel", slot="USB 1-1") == {"ok": True}
    with pytest.raises(StationError, match="nothing runs in USB 9"):
        source.command("cancel", slot="USB 9")
    assert engine.calls == [("pause", ""), ("retry", "a@x"), ("cancel", "USB 1-1"), ("cancel", "USB 9")]


def test_a_key_prepared_for_a_hand_out_ends_done_with_the_persons_name() -> None:
    model = model_after(KeyAttached(slot="USB 1-1", transport="usb", fingerprint="fp", at=T0),
                        KeyPrepared(slot="USB 1-1", handout_id=4, upn="kim@contoso.com", display_name="Kim Ökland",
                                    at=T0 + 9))
    card = model.cards["USB 1-1"]
    assert card.outcome is Outcome.DONE and card.display_name == "Kim Ökland" and card.upn == "kim@contoso.com"
    assert model.log[-1].text.endswith("key prepared for Kim Ökland, who registers it themselves")
    assert model.log[-1].level == "success"
