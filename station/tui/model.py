"""What the dashboard shows, as plain data: status snapshots and events folded into cards and totals.

No Textual here. :class:`DashboardModel` takes the daemon's status snapshot (``apply_snapshot``) and its events
(``apply_event``: the frozen dataclasses of ``station.events``, read back with ``event_from_dict`` when they came
over the control socket), and keeps one :class:`SlotCard` per key
present, the queue totals, who is next, throughput, Entra health, the event log and whether intake is
paused. Time comes from an injected clock so that what is drawn is reproducible.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from enum import StrEnum
from typing import Any, Final

from station.enroll.steps import SessionStep
from station.events import (
    EnrolmentDone,
    EnrolmentFailed,
    Event,
    IntakeChanged,
    KeyAttached,
    KeyInspected,
    KeyPrepared,
    KeyRejected,
    KeyRemoved,
    PersonClaimed,
    PinShown,
    Registered,
    StatusNote,
    StepChanged,
    TouchRequired,
)
from station.i18n import _
from station.status import summary_line
from station.tui.records import EntraHealth, LogLine, PersonRef
from station.tui.totals import BACK_IN_QUEUE, CLAIMED, ENROLLED, RATE_WINDOW, LiveTotals, QueueTotals
from station.wire import SessionSnapshot, StatusSnapshot

# The events that concern one key position.
_SlotEvent = (KeyAttached | KeyRemoved | KeyInspected | KeyRejected | PersonClaimed | StepChanged | TouchRequired
              | PinShown | Registered | EnrolmentDone | EnrolmentFailed | KeyPrepared)

STAGES = ("inspect", "claim", "PIN", "touch", "register", "done")

# The engine's step names (station/enroll/steps.py) → the stage (an index of STAGES) they belong to.
STEP_STAGE: Final = {step.value: int(step.stage) for step in SessionStep if step.stage is not None}
FAILED_STEPS: Final = frozenset(step.value for step in SessionStep if step.is_failure)

LOG_LINES = 200
THROUGHPUT_WINDOW = 3600.0
SPARK_BUCKETS = 12


class Outcome(StrEnum):
    """Where a key's enrolment stands, as the technician needs to know it."""

    WORKING = "working"
    DONE = "done"
    FAILED = "failed"
    REJECTED = "rejected"


@dataclass
class SlotCard:
    """One key present at the station: what it is, whose it becomes, and how far it got."""

    slot: str
    transport: str = ""
    model: str = ""
    fingerprint: str = ""
    upn: str = ""
    display_name: str = ""
    enrolment_id: int | None = None
    step: str = "attached"
    stage: int = 0
    touch: bool = False
    outcome: Outcome = Outcome.WORKING
    reason: str = ""
    message: str = ""
    remedy: str = ""
    retryable: bool = False
    note: str = ""  # done, but a PIN rule the key could not enforce (the person's letter says the same)
    pin: str | None = field(default=None, repr=False)
    started: float = 0.0
    finished: float | None = None

    @property
    def in_flight(self) -> bool:
        """An enrolment runs on this key (quitting now would interrupt it)."""
        return self.outcome is Outcome.WORKING and self.enrolment_id is not None

    @property
    def title(self) -> str:
        """The slot as a technician reads it ("USB 1-1.2"), with the transport when the slot lacks it."""
        transport = self.transport.upper()
        if not transport or self.slot.upper().startswith(transport):
            return self.slot
        return f"{transport} {self.slot}"

    def elapsed(self, now: float) -> float:
        end = self.finished if self.finished is not None else now
        return max(0.0, end - self.started) if self.started else 0.0


class DashboardModel:
    """Folds status snapshots and events into what the dashboard draws. Not thread-safe: feed it from one thread."""

    def __init__(self, *, clock: Callable[[], float] = time.time, tz: tzinfo | None = None) -> None:
        self.clock = clock
        self.tz = tz
        self.cards: dict[str, SlotCard] = {}
        self.station_id = ""
        self.station_name = ""
        self.version = ""
        self.state = "starting"
        self.paused = False
        self.totals = LiveTotals()
        self.store_problem: str | None = None
        self.unresolved: list[Any] = []
        self.delegated: dict[str, int] = {}  # keys handed out for self-activation, by state (station handout)
        self.waiting: list[tuple[str, str]] = []
        self._claimed_since: set[str] = set()  # UPNs claimed at a key since the last snapshot
        self.entra = EntraHealth()
        self.watchers: list[str] = []
        self.summary = ""
        self.reachable = True
        self.log: deque[LogLine] = deque(maxlen=LOG_LINES)
        self.completions: deque[float] = deque()
        self._seq = 0
        self._people: dict[str, PersonRef] = {}

    # -- snapshots ------------------------------------------------------------------------------
    def apply_snapshot(self, status: StatusSnapshot) -> None:
        """Take the daemon's status snapshot: totals, health and the keys it is working on."""
        self.reachable = True
        station = status["station"]
        self.station_id, self.station_name, self.version = station["id"], station["name"], station["version"]
        self.state = status["state"]
        self.paused = status["paused"]
        self.store_problem = status["store_problem"]
        self.unresolved = list(status["unresolved"])
        d = status["delegated"]
        self.delegated = {"handed_out": d["handed_out"], "active": d["active"], "expired": d["expired"]}
        q, today = status["queue"], status["today"]
        sessions = [*status["slots"], *status["finished"]]
        self.totals.snapshot(
            QueueTotals(queued=q["queued"], claimed=q["claimed"], enrolled=q["enrolled"], failed=q["failed"],
                        skipped=q["skipped"]),
            today_enrolled=today["enrolled"], today_failed=today["failed"],
            recent=status["pace"]["enrolled"],
            claimed=[s["enrolment_id"] for s in sessions
                     if s["enrolment_id"] is not None and not s["outcome"] and s["step"] != "done"],
            enrolled=[s["enrolment_id"] for s in sessions
                      if s["enrolment_id"] is not None and (s["outcome"] == "done" or s["step"] == "done")])
        self.waiting = [(p["upn"], p["display_name"]) for p in status["next_up"]]
        self._claimed_since = set()
        e = status["entra"]
        self.entra = EntraHealth(last_latency_ms=e["last_latency_ms"], throttled=e["throttled"],
                                 token_ok=e["token_ok"], last_error=e["last_error"] or "")
        self.watchers = list(status["watchers"])
        self.summary = status["summary"]
        for session in status["slots"]:
            self._apply_session(session, create=True)
        for session in status["finished"]:
            self._apply_session(session, create=False)

    def _apply_session(self, s: SessionSnapshot, *, create: bool) -> None:
        slot = s["slot"]
        if not slot or (slot not in self.cards and not create):
            return
        card = self.cards.get(slot)
        if card is None:
            card = self.cards[slot] = SlotCard(slot=slot, started=s["started"])
        if card.fingerprint and s["fingerprint"] and s["fingerprint"] != card.fingerprint:
            return
        card.transport = s["transport"] or card.transport
        card.fingerprint = s["fingerprint"] or card.fingerprint
        card.model = s["model"] or card.model
        card.upn = s["upn"] or card.upn
        card.display_name = s["display_name"] or card.display_name
        card.enrolment_id = s["enrolment_id"] if s["enrolment_id"] is not None else card.enrolment_id
        if card.outcome is not Outcome.WORKING:
            return
        outcome, step = s["outcome"] or "", s["step"] or card.step
        ended = s["ended"] if s["ended"] is not None else self.clock()
        if outcome == "done" or step == "done":
            self._finish(card, Outcome.DONE, ended)
        elif outcome in ("failed", "rejected") or step in FAILED_STEPS or step == "rejected":
            card.reason = s["reason"] or card.reason
            card.message = s["message"] or card.message
            card.remedy = s["remedy"] or card.remedy
            kind = Outcome.REJECTED if outcome == "rejected" or step == "rejected" else Outcome.FAILED
            self._finish(card, kind, ended)
        else:
            self._set_step(card, step)
            card.touch = step == "touch"
        if card.upn:
            self._remember(card)

    # -- events ---------------------------------------------------------------------------------
    def apply_event(self, event: Event) -> None:
        """Fold one event into the cards, totals and log (``_on_<its class>``; other kinds change nothing)."""
        handler = getattr(self, f"_on_{event.kind}", None)
        if handler is not None:
            handler(event, event.at)

    def _card(self, event: _SlotEvent, at: float) -> SlotCard:
        slot = event.slot
        card = self.cards.get(slot)
        if card is None:
            card = self.cards[slot] = SlotCard(slot=slot, started=at)
        return card

    def _on_KeyAttached(self, e: KeyAttached, at: float) -> None:
        slot = e.slot
        self.cards[slot] = SlotCard(slot=slot, transport=e.transport, fingerprint=e.fingerprint, started=at)
        self._log(at, "info", _("{slot}: key inserted").format(slot=self._where(slot)))

    def _on_KeyInspected(self, e: KeyInspected, at: float) -> None:
        card = self._card(e, at)
        card.model = e.model
        self._log(at, "info", _("{slot}: {model} inspected").format(slot=self._where(card.slot),
                                                                     model=card.model or _("key")))

    def _on_KeyRejected(self, e: KeyRejected, at: float) -> None:
        card = self._card(e, at)
        self._fail(card, e, Outcome.REJECTED, at)
        self._log(at, "error", _("{slot}: key refused — {why}").format(slot=self._where(card.slot), why=card.message))

    def _on_PersonClaimed(self, e: PersonClaimed, at: float) -> None:
        card = self._card(e, at)
        card.upn, card.display_name, card.enrolment_id = e.upn, e.display_name, e.enrolment_id
        self.totals.moved(card.enrolment_id, CLAIMED, at)
        self._claimed_since.add(card.upn)
        self._set_step(card, "claimed")
        self._remember(card)
        self._log(at, "info", _("{slot}: for {name} ({upn})").format(slot=self._where(card.slot), upn=card.upn,
                                                                      name=card.display_name or card.upn))

    def _on_StepChanged(self, e: StepChanged, at: float) -> None:
        card = self._card(e, at)
        step = e.step
        if card.outcome is not Outcome.WORKING:
            return
        if step in FAILED_STEPS or step == "done":
            card.step = step
            return
        self._set_step(card, step)
        if step != "touch":
            card.touch = False

    def _on_TouchRequired(self, e: TouchRequired, at: float) -> None:
        card = self._card(e, at)
        card.touch = True
        if card.stage < STAGES.index("touch") and card.step != "resetting":
            self._set_step(card, "touch")
        self._log(at, "warning", _("{slot}: waiting for a touch").format(slot=self._where(card.slot)))

    def _on_PinShown(self, e: PinShown, at: float) -> None:
        if e.pin and set(e.pin) != {"*"}:  # over the control socket a PIN is always masked
            self._card(e, at).pin = e.pin

    def _on_Registered(self, e: Registered, at: float) -> None:
        card = self._card(e, at)
        card.touch = False
        self._set_step(card, "registered")
        self._log(at, "info", _("{slot}: passkey registered for {upn}").format(slot=self._where(card.slot),
                                                                                upn=e.upn))

    def _on_EnrolmentDone(self, e: EnrolmentDone, at: float) -> None:
        card = self._card(e, at)
        card.upn, card.note = e.upn or card.upn, e.note
        self._finish(card, Outcome.DONE, at)
        self.completions.append(at)
        self.totals.moved(e.enrolment_id, ENROLLED, at)
        self._remember(card, _("enrolled"))
        self._log(at, "success", _("{slot}: done — {name}").format(slot=self._where(card.slot),
                                                                    name=card.display_name or card.upn))

    def _on_KeyPrepared(self, e: KeyPrepared, at: float) -> None:
        """A key reset and given a PIN for a hand-out: done, the person registers it themselves."""
        card = self._card(e, at)
        card.upn, card.display_name = e.upn, e.display_name
        self._finish(card, Outcome.DONE, at)
        self._log(at, "success", _("{slot}: key prepared for {name}, who registers it themselves").format(
            slot=self._where(card.slot), name=card.display_name or card.upn))

    def _on_EnrolmentFailed(self, e: EnrolmentFailed, at: float) -> None:
        card = self._card(e, at)
        card.upn = e.upn or card.upn
        self._fail(card, e, Outcome.FAILED, at)
        self.totals.moved(e.enrolment_id, BACK_IN_QUEUE, at, failed=True)
        if card.upn:
            self._remember(card, _("failed"))
        self._log(at, "error", _("{slot}: failed — {why} ({reason})").format(
            slot=self._where(card.slot), why=card.message, reason=card.reason))

    def _on_KeyRemoved(self, e: KeyRemoved, at: float) -> None:
        slot = e.slot
        if slot in self.cards:
            self._log(at, "info", _("{slot}: key removed").format(slot=self._where(slot)))
            card = self.cards.pop(slot)
            if card.in_flight:  # pulled out mid-way: the session ends and the person waits in the queue again
                self.totals.moved(card.enrolment_id, BACK_IN_QUEUE, at)
                self._claimed_since.discard(card.upn)

    def _on_IntakeChanged(self, e: IntakeChanged, at: float) -> None:
        self.paused = e.paused
        if self.state in ("idle", "working", "paused"):
            self.state = "paused" if self.paused else "idle"
        self._log(at, "warning" if self.paused else "info",
                  _("intake paused: new keys wait") if self.paused else _("intake resumed"))

    def _on_StatusNote(self, e: StatusNote, at: float) -> None:
        self._log(at, e.level, e.message)

    # -- the source itself ----------------------------------------------------------------------
    def source_unreachable(self, message: str) -> None:
        """The status could not be read (the daemon stopped, or the socket went away)."""
        if self.reachable:
            self._log(self.clock(), "error", message)
        self.reachable = False

    def note(self, level: str, message: str) -> None:
        """A line of the dashboard's own in the event log (command answers, refusals)."""
        self._log(self.clock(), level, message)

    # -- derived --------------------------------------------------------------------------------
    def in_flight(self) -> list[SlotCard]:
        return [c for c in self.cards.values() if c.in_flight]

    @property
    def next_up(self) -> list[tuple[str, str]]:
        """Who is next, as the snapshot said, less anyone claimed at a key since."""
        return [(upn, name) for upn, name in self.waiting if upn not in self._claimed_since]

    @property
    def queue(self) -> QueueTotals:
        return self.totals.queue

    @property
    def today_enrolled(self) -> int:
        return self.totals.today_enrolled

    @property
    def today_failed(self) -> int:
        return self.totals.today_failed

    def active_keys(self) -> int:
        """Keys being worked on now: the cards that say so (the header counts these, not an older snapshot)."""
        return sum(1 for c in self.cards.values() if c.outcome is Outcome.WORKING)

    def display_state(self) -> str:
        """The station's state as the cards tell it: working while a card is, idle when none is."""
        if self.state in ("idle", "working"):
            return "working" if self.active_keys() else "idle"
        return self.state

    def header_summary(self) -> str:
        """The header's line, built from the same cards and totals as the rest of the screen."""
        return summary_line({"state": self.display_state(), "store_problem": self.store_problem,
                             "slots": [{} for _ in range(self.active_keys())], "queue": vars(self.queue),
                             "today": {"enrolled": self.today_enrolled, "failed": self.today_failed},
                             "entra": {"token_ok": self.entra.token_ok, "throttled": self.entra.throttled},
                             "unresolved": self.unresolved, "delegated": self.delegated})

    def recent_enrolled(self) -> int:
        """Enrolments finished in the last 15 minutes: the station's count when its snapshot has one (every
        station sharing the store) plus those seen since, else what this dashboard saw."""
        recent = self.totals.recent_enrolled(self.clock())
        if recent is None:
            horizon = self.clock() - RATE_WINDOW
            recent = sum(1 for at in self.completions if at >= horizon)
        return recent

    def throughput_per_hour(self) -> int:
        """The rolling rate: enrolments finished in the last 15 minutes, as a rate per hour."""
        return round(self.recent_enrolled() * 3600.0 / RATE_WINDOW)

    def throughput_series(self) -> list[float]:
        """Enrolments per five minutes over the last hour, oldest first."""
        self._trim_completions()
        now, width = self.clock(), THROUGHPUT_WINDOW / SPARK_BUCKETS
        buckets = [0.0] * SPARK_BUCKETS
        for at in self.completions:
            index = SPARK_BUCKETS - 1 - int((now - at) // width)
            if 0 <= index < SPARK_BUCKETS:
                buckets[index] += 1
        return buckets

    def people(self) -> list[PersonRef]:
        """Everyone the dashboard has heard of: those seen at a key (most recent first), then who is next."""
        seen = list(reversed(self._people.values()))
        known = {p.upn for p in seen}
        return seen + [PersonRef(upn, name, "next up") for upn, name in self.next_up if upn not in known]

    def find_people(self, query: str) -> list[PersonRef]:
        q = query.strip().lower()
        return [p for p in self.people() if q in p.upn.lower() or q in p.display_name.lower()]

    def clock_text(self, at: float) -> str:
        return datetime.fromtimestamp(at, self.tz).strftime("%H:%M:%S")

    def log_since(self, seq: int) -> Iterable[LogLine]:
        return (line for line in self.log if line.seq > seq)

    # -- helpers --------------------------------------------------------------------------------
    def _set_step(self, card: SlotCard, step: str) -> None:
        card.step = step
        stage = STEP_STAGE.get(step)
        if stage is not None:
            card.stage = stage

    def _finish(self, card: SlotCard, outcome: Outcome, at: float) -> None:
        card.outcome = outcome
        card.touch = False
        card.finished = at
        if outcome is Outcome.DONE:
            card.stage = STAGES.index("done")
            card.step = "done"

    def _fail(self, card: SlotCard, e: KeyRejected | EnrolmentFailed, outcome: Outcome, at: float) -> None:
        card.reason, card.message, card.remedy = e.reason, e.message, e.remedy
        card.retryable = isinstance(e, EnrolmentFailed) and e.retryable
        self._finish(card, outcome, at)

    def _remember(self, card: SlotCard, where: str = "") -> None:
        self._people.pop(card.upn, None)
        self._people[card.upn] = PersonRef(card.upn, card.display_name,
                                           where or _("at {slot}").format(slot=card.slot))

    def _where(self, slot: str) -> str:
        card = self.cards.get(slot)
        return card.title if card else slot

    def _trim_completions(self) -> None:
        horizon = self.clock() - THROUGHPUT_WINDOW
        while self.completions and self.completions[0] < horizon:
            self.completions.popleft()

    def _log(self, at: float, level: str, text: str) -> None:
        self._seq += 1
        self.log.append(LogLine(self._seq, at, level, text))
