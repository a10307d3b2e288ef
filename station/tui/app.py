"""The dashboard app: ``create_app(source)`` builds it, ``run_dashboard(source)`` runs it in the terminal.

One app for both modes: kiosk (an EngineSource, the engine in this process) and monitor (a ControlSource,
a daemon through its socket). Background threads never touch widgets: the source's event callback and
the status and command workers post messages (station/tui/messages.py), which the app folds into its
DashboardModel on its own thread before redrawing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import tzinfo
from functools import partial
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Footer

from station.errors import StationError
from station.events import Event
from station.i18n import N_, _
from station.text import visible
from station.tui.bindings import speak_bindings
from station.tui.log_capture import captured_logs
from station.tui.messages import CommandAnswered, EventArrived, StatusRefreshed, StatusUnreachable
from station.tui.model import DashboardModel, Outcome, SlotCard
from station.tui.screens.find_person import FindPersonScreen
from station.tui.screens.fleet import FleetScreen
from station.tui.screens.help import HelpScreen
from station.tui.screens.keys import KeyConfirmScreen, KeysScreen
from station.tui.screens.quit_confirm import QuitConfirmScreen
from station.tui.source import DashboardSource
from station.tui.widgets.card_deck import CardDeck
from station.tui.widgets.entra_health import EntraHealthPanel
from station.tui.widgets.event_log import EventLog
from station.tui.widgets.queue_panel import QueuePanel
from station.tui.widgets.slot_card import SlotCardView
from station.tui.widgets.station_bar import StationBar
from station.tui.widgets.throughput import ThroughputPanel
from station.wire import StatusSnapshot

log = logging.getLogger(__name__)

READ_ONLY_NOTE = N_("Monitor mode is read-only: pause, retry, skip and hand-outs are disabled here. "
                     "Use the station's kiosk, or a user allowed to control the daemon.")
SHORT_HEIGHT = 34
NARROW_WIDTH = 100
FLEET_SECONDS = 3.0
# With no key in (and the daemon answering) the status is read this seldom: events still arrive at once.
IDLE_POLL_SECONDS = 10.0
DONE_WORDS = {"pause": N_("Intake paused: new keys wait"), "resume": N_("Intake resumed"),
              "retry": N_("{who} is queued again"), "skip": N_("{who} is skipped"),
              "cancel": N_("{who}: enrolment cancelled"),
              "handout": N_("{who}: key handed out, the pass sealed; print the letter with 'station handout letters'")}
HANDOUT_QUESTION = N_("Hand a key out to {who}?\nThey register it themselves with a Temporary Access Pass, made now "
                      "(replacing any they have) and sealed to the escrow key; they leave the station's queue.")
PANEL_TITLES = {"queue": N_("Queue"), "throughput": N_("Throughput"), "entra": N_("Entra ID"), "log": N_("Events")}


class StationApp(App[int]):
    """The station dashboard. Build it with :func:`create_app`."""

    CSS_PATH = "station.tcss"
    BINDINGS = [  # the footer's words, translated by each app (__init__)
        Binding("p", "toggle_intake", N_("Pause/resume")),
        Binding("r", "retry", N_("Retry")),
        Binding("s", "skip", N_("Skip")),
        Binding("slash", "find", N_("Find")),
        Binding("f", "fleet", N_("Fleet")),
        Binding("k", "keys", N_("Keys")),
        Binding("h", "handout", N_("Hand out"), show=False),
        Binding("question_mark", "help", N_("Help")),
        Binding("q", "quit_asking", N_("Quit")),
    ]

    def __init__(self, source: DashboardSource, *, title: str, mode: str, clock: Callable[[], float],
                 tz: tzinfo | None, poll_seconds: float, fleet_seconds: float,
                 keep_running: Callable[[], bool] | None = None) -> None:
        super().__init__()
        speak_bindings(self)
        self.keep_running = keep_running
        self.source = source
        self.title = title
        self.mode = mode
        self.model = DashboardModel(clock=clock, tz=tz)
        self.model.station_name = title
        self.poll_seconds = poll_seconds
        self.fleet_seconds = fleet_seconds
        self._unsubscribe: Callable[[], None] | None = None
        self._polled = float("-inf")
        self._shown_status: StatusSnapshot | None = None
        self._events_taken = 0
        self.failure: BaseException | None = None
        self.quitting = False

    def _handle_exception(self, error: Exception) -> None:
        """An error the dashboard did not handle: logged once with its traceback, then Textual stops the app
        with exit code 1 (``station kiosk`` then restarts the dashboard; the daemon never stops for it). Once
        the dashboard is closing, a widget that finds its children gone is no failure: it is only logged."""
        if self.quitting:
            log.debug("while the dashboard closes: %s: %s", type(error).__name__, error)
            return
        if self.failure is None:
            self.failure = error
            log.error("the dashboard failed: %s: %s", type(error).__name__, error, exc_info=error)
        super()._handle_exception(error)

    def exit(self, result: int | None = None, return_code: int = 0, message: Any = None) -> None:
        """Close the dashboard; from now on nothing is drawn (the widgets are being taken down)."""
        self.quitting = True
        super().exit(result, return_code, message)

    def _fatal_error(self) -> None:
        """Textual would print the traceback with every frame's local variables (names and UPNs among them)
        to the terminal, and so to the journal; the log has the traceback without them, so say only that."""
        name = type(self.failure).__name__ if self.failure is not None else "error"
        self._exit_renderables.append(Text(f"station: the dashboard stopped after an error ({name}); "
                                           "the station log has the traceback"))
        self._close_messages_no_wait()

    def compose(self) -> ComposeResult:
        yield StationBar(mode=self.mode, read_only=self.source.read_only, id="station-bar")
        with Horizontal(id="body"):
            yield CardDeck(id="cards")
            with VerticalScroll(id="side"):
                yield QueuePanel(id="queue")
                yield ThroughputPanel(id="throughput")
                yield EntraHealthPanel(id="entra")
        yield EventLog(id="log")
        yield Footer()

    def on_mount(self) -> None:
        for panel_id, title in PANEL_TITLES.items():
            self.query_one(f"#{panel_id}").border_title = _(title)
        self._fit(self.size.width, self.size.height)
        self._unsubscribe = self.source.subscribe(self._event_from_source)
        self.refresh_status()
        self.set_interval(self.poll_seconds, self._poll)
        self.set_interval(1.0, self._tick)
        self._redraw()

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def on_resize(self, event: events.Resize) -> None:
        self._fit(event.size.width, event.size.height)

    def _fit(self, width: int, height: int) -> None:
        self.set_class(height < SHORT_HEIGHT, "-short")
        self.set_class(width < NARROW_WIDTH, "-narrow")

    # -- from background threads ----------------------------------------------------------------
    def _event_from_source(self, event: Event) -> None:
        """Called on the source's thread: hand the event over to the app's thread."""
        self.post_message(EventArrived(event))

    def _poll(self) -> None:
        """Read the status every poll period while a key is in or the daemon does not answer, else every
        ``IDLE_POLL_SECONDS``."""
        busy = not self.model.reachable or any(c.outcome is Outcome.WORKING for c in self.model.cards.values())
        if busy or time.monotonic() - self._polled >= max(self.poll_seconds, IDLE_POLL_SECONDS):
            self.refresh_status()

    def refresh_status(self) -> None:
        self._polled = time.monotonic()
        self.run_worker(self._read_status, thread=True, exclusive=True, group="status", exit_on_error=False)

    def _read_status(self) -> None:
        events_before = self._events_taken
        try:
            status = self.source.snapshot()
        except (StationError, OSError, ValueError) as e:
            message = getattr(e, "message", None) or str(e)
            self.post_message(StatusUnreachable(f"cannot read the station's status: {message}"))
        else:
            self.post_message(StatusRefreshed(status, events_before))

    def _run_command(self, cmd: str, args: dict[str, Any]) -> None:
        try:
            answer = self.source.command(cmd, **args)
        except StationError as e:
            self.post_message(CommandAnswered(cmd, args, {"message": e.message, "remedy": e.remedy}))
        except OSError as e:
            self.post_message(CommandAnswered(cmd, args, {"message": f"the station did not answer: {e}",
                                                          "remedy": "Check that the station daemon runs."}))
        else:
            error = answer.get("error") if answer.get("ok") is False else None
            self.post_message(CommandAnswered(cmd, args, dict(error) if isinstance(error, dict) else None))

    # -- on the app's thread --------------------------------------------------------------------
    def on_event_arrived(self, message: EventArrived) -> None:
        self._shown_status = None
        self._events_taken += 1
        self.model.apply_event(message.event)
        self._redraw()

    def on_status_refreshed(self, message: StatusRefreshed) -> None:
        if message.events_before != self._events_taken:
            # Read before the latest events: its totals would undo what the cards already show. Read again.
            self.refresh_status()
            return
        if message.status == self._shown_status:
            return  # the same snapshot, and no event since: nothing on the screen would change
        self._shown_status = message.status
        self.model.apply_snapshot(message.status)
        self._redraw()

    def on_status_unreachable(self, message: StatusUnreachable) -> None:
        self._shown_status = None
        self.model.source_unreachable(message.message)
        self._redraw()

    def on_command_answered(self, message: CommandAnswered) -> None:
        who = message.args.get("upn") or message.args.get("slot") or ""
        if message.error is None:
            text = _(DONE_WORDS[message.cmd]).format(who=who) if message.cmd in DONE_WORDS else message.cmd
            self.model.note("success", text)
            self.notify(visible(text), title=_("Done"), markup=False)
            self.refresh_status()
        else:
            text = str(message.error.get("message", "refused"))
            remedy = str(message.error.get("remedy", ""))
            self.model.note("error", f"{message.cmd} {who}: {text}".replace("  ", " "))
            self.notify(f"{visible(text)}\n→ {visible(remedy)}" if remedy else visible(text),
                        title=_("{command} refused").format(command=message.cmd), severity="error", timeout=8,
                        markup=False)
        self._redraw()

    def _tick(self) -> None:
        if not self.is_running or self.quitting:
            return  # shutting down: the screen and its widgets may be gone already
        if self.keep_running is not None and not self.keep_running():
            self.exit(0)
            return
        self.query_one(CardDeck).tick(self.model)
        self.query_one(StationBar).show(self.model)
        self.query_one(ThroughputPanel).show(self.model)

    def _redraw(self) -> None:
        if not self.is_running or self.quitting:
            return  # shutting down: the screen and its widgets may be gone already
        self.query_one(StationBar).show(self.model)
        self.query_one(CardDeck).show(self.model)
        self.query_one(QueuePanel).show(self.model)
        self.query_one(ThroughputPanel).show(self.model)
        self.query_one(EntraHealthPanel).show(self.model)
        self.query_one(EventLog).show(self.model)

    # -- actions --------------------------------------------------------------------------------
    def selected_card(self) -> SlotCard | None:
        focused = self.focused
        if isinstance(focused, SlotCardView):
            return self.model.cards.get(focused.slot)
        return None

    def _send(self, cmd: str, **args: Any) -> None:
        if self.source.read_only:
            self.model.note("warning", f"{cmd}: not allowed in read-only monitor mode")
            self.notify(_(READ_ONLY_NOTE), title=_("Read-only"), severity="warning", timeout=6, markup=False)
            self._redraw()
            return
        self.run_worker(partial(self._run_command, cmd, args), thread=True, group="command", exit_on_error=False)

    def action_toggle_intake(self) -> None:
        self._send("resume" if self.model.paused else "pause")

    def action_retry(self) -> None:
        self._act_on_person("retry", _("Retry whom? (a failed or skipped person)"))

    def action_skip(self) -> None:
        self._act_on_person("skip", _("Skip whom? (a queued or failed person)"))

    def _act_on_person(self, cmd: str, question: str) -> None:
        if self.source.read_only:
            self._send(cmd)
            return
        card = self.selected_card()
        if card is not None and card.upn and card.outcome is Outcome.FAILED:
            self._send(cmd, upn=card.upn)
            return

        def chosen(upn: str | None) -> None:
            if upn:
                self._send(cmd, upn=upn)

        self.push_screen(FindPersonScreen(question, self.model.find_people), chosen)

    def action_handout(self) -> None:
        """Hand a key out to a person picked from the list (or a UPN typed in full), after a confirmation."""
        if self.source.read_only:
            self._send("handout")
            return

        def confirmed(upn: str, yes: bool | None) -> None:
            if yes:
                self._send("handout", upn=upn)

        def chosen(upn: str | None) -> None:
            if upn:
                question = _(HANDOUT_QUESTION).format(who=visible(upn))
                self.push_screen(KeyConfirmScreen(question), partial(confirmed, upn))

        self.push_screen(FindPersonScreen(_("Hand a key out to whom? (they register it themselves)"),
                                          self.model.find_people), chosen)

    def action_find(self) -> None:
        self.push_screen(FindPersonScreen(_("Find a person"), self.model.find_people), self._show_person)

    def _show_person(self, upn: str | None) -> None:
        if not upn:
            return
        for slot, card in self.model.cards.items():
            if card.upn == upn:
                self.query_one(CardDeck).views[slot].focus()
                return
        known = {p.upn: p for p in self.model.people()}.get(upn)
        if known is not None:
            self.notify(visible(f"{known.display_name or upn} ({upn}): {known.where}"), title=_("Found"),
                        markup=False)
        else:
            self.notify(visible(_("{upn} has not been seen on this dashboard. Look them up with 'station queue show "
                                  "{upn}'.").format(upn=upn)), title=_("Not here"), severity="warning", markup=False)

    def action_fleet(self) -> None:
        self.push_screen(FleetScreen(self.source.fleet, clock_text=self.model.clock_text,
                                     refresh_seconds=self.fleet_seconds))

    def action_keys(self) -> None:
        self.push_screen(KeysScreen(self.source))

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_quit_asking(self) -> None:
        in_flight = self.model.in_flight()
        if not in_flight:
            self.exit(0)
            return
        what = [f"{c.title}: {c.display_name or c.upn}" for c in in_flight]

        def answered(quit_now: bool | None) -> None:
            if quit_now:
                self.exit(0)

        self.push_screen(QuitConfirmScreen(what, stops_station=self.mode == "kiosk"), answered)


def create_app(source: DashboardSource, *, title: str = "Station", mode: str = "kiosk",
               clock: Callable[[], float] = time.time, tz: tzinfo | None = None,
               poll_seconds: float = 2.0, fleet_seconds: float = FLEET_SECONDS,
               keep_running: Callable[[], bool] | None = None) -> StationApp:
    """The dashboard for ``source``. ``mode`` is "kiosk" or "monitor"; ``clock``/``tz`` fix time in tests;
    the status is read every ``poll_seconds``, the fleet (while its screen is open) every ``fleet_seconds``;
    the app closes itself within a second once ``keep_running()`` is false."""
    return StationApp(source, title=title, mode=mode, clock=clock, tz=tz, poll_seconds=poll_seconds,
                      fleet_seconds=fleet_seconds, keep_running=keep_running)


def run_dashboard(source: DashboardSource, *, title: str = "Station", mode: str = "kiosk",
                  log_file: Path | None = None) -> int:
    """Run the dashboard for ``source`` in this terminal until the operator quits; returns an exit code."""
    return run_app(create_app(source, title=title, mode=mode), log_file=log_file)


def run_app(app: StationApp, *, log_file: Path | None = None, headless: bool = False) -> int:
    """Run a built dashboard (``headless``: without drawing, for tests). Meanwhile log records go to its event
    log (warnings and errors) and to ``log_file``, never over the screen."""
    with captured_logs(app, log_file):
        app.run(headless=headless)
    return app.return_code or 0
