"""The Keys view beside People: every key Station enrolled (the inventory), searched by name, UPN, serial or
model and filtered by state (``t`` cycles it). On a dashboard that may control the station, ``v`` revokes the
selected key (a reason, then a confirmation) and ``n`` replaces its holder's key (revoke, then queue them
again ahead of everyone); a read-only dashboard shows the keys without actions. ``k`` or Esc closes it.

The list and the actions go through the dashboard's source (the control socket's ``keys``, ``revoke_key`` and
``replace_key``) on a worker thread; names and UPNs are shown as text, never markup.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from rich.cells import cell_len
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, DataTable, Footer, Input, OptionList, Static
from textual.widgets.option_list import Option

from station.errors import StationError
from station.i18n import N_, _
from station.text import visible
from station.tui.bindings import speak_bindings
from station.tui.source import DashboardSource

STATES: Final = (None, "active", "revoking", "revoked", "lost", "returned", "reset")
# A key's states and the reasons for revoking it, as the technician reads them (the store's words stay English).
WORDS: Final = {"active": N_("active"), "revoking": N_("revoking"), "revoked": N_("revoked"), "lost": N_("lost"),
                "returned": N_("returned"), "reset": N_("reset"), "stolen": N_("stolen"), "left": N_("left"),
                "replaced": N_("replaced")}
REASONS: Final = ("lost", "stolen", "left", "replaced")
COLUMNS: Final = (N_("state"), N_("key"), N_("model"), N_("holder"), N_("enrolled"), N_("station"))
READ_ONLY_KEYS: Final = N_("This dashboard is read-only: revoke or replace keys at the station "
                           "('station keys revoke', 'station keys replace') or from a privileged dashboard.")


def word(state: str) -> str:
    """A key's state or revocation reason in the station's language."""
    return _(WORDS[state]) if state in WORDS else state


class KeyConfirmScreen(ModalScreen[bool]):
    """Asks before a key is revoked, replaced or handed out; answers True to go ahead."""

    BINDINGS = [Binding("y", "answer(True)", N_("Yes")), Binding("n,escape", "answer(False)", N_("No"))]

    def __init__(self, question: str) -> None:
        super().__init__()
        speak_bindings(self)
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="key-confirm"):
            yield Static(Text(self.question))
            with Horizontal(classes="buttons"):
                yield Button(_("Yes (y)"), id="yes", variant="error")
                yield Button(_("No (n)"), id="no", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class ReasonScreen(ModalScreen[str | None]):
    """Why a key is revoked; answers the reason, or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", N_("Cancel"))]

    def __init__(self) -> None:
        super().__init__()
        speak_bindings(self)

    def compose(self) -> ComposeResult:
        with Vertical(id="key-reason"):
            yield Static(Text(_("Why is this key revoked?")))
            yield OptionList(*(Option(word(reason), id=reason) for reason in REASONS), id="reasons")

    @on(OptionList.OptionSelected)
    def chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class KeysScreen(Screen[None]):
    BINDINGS = [Binding("k,escape", "dismiss", N_("Close keys")), Binding("t", "next_state", N_("State filter")),
                Binding("v", "revoke", N_("Revoke")), Binding("n", "replace", N_("Replace"))]

    def __init__(self, source: DashboardSource) -> None:
        super().__init__()
        speak_bindings(self)
        self.source = source
        self.state: str | None = None
        self.keys: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        yield Static(Text(" " + _("Keys · reading the inventory…"), style="bold"), id="keys-bar")
        yield Input(placeholder=_("search: name, UPN, serial or model"), id="key-search")
        yield DataTable(id="key-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.reload()

    @on(Input.Changed, "#key-search")
    def search_changed(self) -> None:
        self.reload()

    def action_next_state(self) -> None:
        self.state = STATES[(STATES.index(self.state) + 1) % len(STATES)]
        self.reload()

    def reload(self) -> None:
        text = self.query_one("#key-search", Input).value
        self.run_worker(lambda: self._read(text), thread=True, exclusive=True, group="keys", exit_on_error=False)

    def _read(self, text: str) -> None:
        args: dict[str, Any] = {"text": text}
        if self.state:
            args["state"] = self.state
        try:
            keys = list(self.source.command("keys", **args).get("keys", []))
        except (StationError, OSError, ValueError) as e:
            self.app.call_from_thread(self._say, " " + _("Keys · cannot read the inventory: {why}").format(
                why=getattr(e, "message", e)))
            return
        self.app.call_from_thread(self._show, keys)

    def _say(self, line: str) -> None:
        self.query_one("#keys-bar", Static).update(Text(visible(line), style="bold"))

    def _show(self, keys: list[dict[str, Any]]) -> None:
        self.keys = keys
        table = self.query_one(DataTable)
        cursor = table.cursor_row
        rows = [_row(k) for k in keys]
        headers = [_(column) for column in COLUMNS]
        table.clear(columns=True)
        # Each column as wide as what is shown in it now, set here: left to the table, a redraw racing the new
        # rows could keep the headers' widths and cut every cell short.
        for i, header in enumerate(headers):
            table.add_column(header, width=max(cell_len(cell) for cell in [header, *(row[i] for row in rows)]))
        for k, row in zip(keys, rows, strict=True):
            table.add_row(*(Text(cell) for cell in row), key=str(k["id"]))
        if keys:
            table.move_cursor(row=min(cursor, len(keys) - 1))
        shown = _("state {state}").format(state=word(self.state)) if self.state else _("every state")
        actions = _("read-only") if self.source.read_only else _("v revoke · n replace")
        self._say(" " + _("Keys · {n} shown ({shown}) · t filters by state · {actions}").format(
            n=len(keys), shown=shown, actions=actions))

    def selected(self) -> dict[str, Any] | None:
        table = self.query_one(DataTable)
        if not self.keys or table.cursor_row is None or table.cursor_row >= len(self.keys):
            return None
        return self.keys[table.cursor_row]

    def _may_act(self) -> dict[str, Any] | None:
        if self.source.read_only:
            self.notify(_(READ_ONLY_KEYS), title=_("Read-only"), severity="warning", timeout=6, markup=False)
            return None
        key = self.selected()
        if key is None:
            self.notify(_("Choose a key in the list first."), severity="warning", markup=False)
        return key

    def action_revoke(self) -> None:
        key = self._may_act()
        if key is None:
            return
        holder = visible(key.get("display_name") or key.get("upn") or "")

        def reason_chosen(reason: str | None) -> None:
            if reason:
                question = _("Revoke key {key} of {holder} ({reason})?\nEntra ID deletes its passkey; the key no "
                             "longer signs in.").format(key=visible(key["identity"]), holder=holder,
                                                        reason=word(reason))
                self.app.push_screen(KeyConfirmScreen(question),
                                     lambda yes: self._act(yes, "revoke_key", identity=key["identity"], reason=reason))

        self.app.push_screen(ReasonScreen(), reason_chosen)

    def action_replace(self) -> None:
        key = self._may_act()
        if key is None:
            return
        question = _("Replace the key of {holder}?\nEvery key they hold is revoked (reason replaced) and they are "
                     "queued again, ahead of everyone.").format(holder=visible(key.get("display_name") or key["upn"]))
        self.app.push_screen(KeyConfirmScreen(question), lambda yes: self._act(yes, "replace_key", upn=key["upn"]))

    def _act(self, yes: bool | None, cmd: str, **args: Any) -> None:
        if yes:
            self.run_worker(lambda: self._command(cmd, args), thread=True, group="key-action", exit_on_error=False)

    def _command(self, cmd: str, args: dict[str, Any]) -> None:
        try:
            answer = self.source.command(cmd, **args)
        except (StationError, OSError, ValueError) as e:
            message = getattr(e, "message", None) or str(e)
            remedy = getattr(e, "remedy", "") or ""
            self.app.call_from_thread(self.notify, visible(f"{message}\n{remedy}".strip()), title=_("Not done"),
                                      severity="error", timeout=10, markup=False)
            return
        changed = [k for k in answer.get("keys", []) if k.get("changed")]
        text = (", ".join(f"{k['identity']} → {word(k['state'])}" for k in changed)
                or _("nothing to do: already revoked"))
        self.app.call_from_thread(self.notify, visible(text), title=_("Done"), markup=False)
        self.app.call_from_thread(self.reload)


def _row(k: dict[str, Any]) -> list[str]:
    """A key of the inventory as the table's cells: state (and reason), key, model, holder, enrolled, station."""
    state = f"{word(k['state'])} ({word(k['reason'])})" if k.get("reason") else word(str(k["state"]))
    holder = f"{k.get('display_name') or ''} <{k.get('upn') or ''}>"
    enrolled = datetime.fromtimestamp(float(k["enrolled_at"]), UTC).strftime("%Y-%m-%d")
    return [visible(str(v)) for v in (state, k["identity"], k.get("model") or "", holder, enrolled,
                                      k.get("station_id") or "")]
