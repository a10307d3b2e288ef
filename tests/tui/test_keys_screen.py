"""The dashboard's Keys view driven through Textual's Pilot with a fake station: ``k`` lists the inventory,
the search and the state filter narrow it, a privileged dashboard revokes a key (reason, then confirmation)
and replaces one, saying no changes nothing, and a read-only dashboard shows the keys without acting."""

from __future__ import annotations

from typing import Any

from dashboard_steps import make_app
from fake_source import T0, FakeSource
from pilot_wait import Notes, wait_for
from textual.pilot import Pilot

from station.tui.screens.keys import READ_ONLY_KEYS, KeyConfirmScreen, KeysScreen, ReasonScreen

SIZE = (120, 30)


def inventory_key(n: int, upn: str, name: str, model: str, state: str = "active") -> dict[str, Any]:
    return {"id": n, "enrolment_id": n, "identity": f"3100000{n}", "serial": f"3100000{n}", "model": model,
            "state": state, "reason": None, "upn": upn, "display_name": name, "station_id": "desk-1",
            "enrolled_at": T0}


class KeysSource(FakeSource):
    """The fake station, with a key inventory answering keys / revoke_key / replace_key."""

    def __init__(self, *, read_only: bool = False) -> None:
        super().__init__(read_only=read_only)
        self.inventory = [inventory_key(1, "ada@contoso.com", "Ada Lovelace", "YubiKey 5 NFC"),
                          inventory_key(2, "grace@contoso.com", "Grace Hopper", "Titan v2"),
                          inventory_key(3, "alan@contoso.com", "Alan Turing", "YubiKey 5 NFC", state="lost")]

    def command(self, cmd: str, **args: Any) -> dict[str, Any]:
        if cmd not in ("keys", "revoke_key", "replace_key"):
            return super().command(cmd, **args)
        self.commands.append((cmd, args))
        if cmd == "keys":
            text = str(args.get("text", "")).lower()
            keys = [k for k in self.inventory if (not args.get("state") or k["state"] == args["state"])
                    and (not text or any(text in str(k[f]).lower() for f in ("upn", "display_name", "model")))]
            return {"ok": True, "keys": keys}
        match = [k for k in self.inventory
                 if k["identity"] == args.get("identity") or (cmd == "replace_key" and k["upn"] == args.get("upn"))]
        for k in match:
            k["state"], k["reason"] = ("revoked", "replaced") if cmd == "replace_key" else (
                "lost" if args["reason"] in ("lost", "stolen") else "revoked", args["reason"])
        return {"ok": True, "keys": [{**k, "changed": True} for k in match]}


def on_screen(pilot: Pilot[int]) -> str:
    return "\n".join(strip.text for strip in pilot.app.screen._compositor.render_strips())


async def until(pilot: Pilot[int], *words: str) -> None:
    await wait_for(pilot, lambda: all(w in on_screen(pilot) for w in words), f"the screen showing {words!r}")


async def test_k_lists_the_keys_and_the_search_and_state_filter_narrow_them() -> None:
    source = KeysSource()
    async with make_app(source).run_test(size=SIZE) as pilot:
        await pilot.press("k")
        await until(pilot, "3 shown (every state)", "Ada Lovelace", "Grace Hopper", "Alan Turing", "lost")
        assert isinstance(pilot.app.screen, KeysScreen)
        await pilot.press(*"titan")
        await until(pilot, "1 shown")
        assert "Grace Hopper" in on_screen(pilot) and "Ada Lovelace" not in on_screen(pilot)
        await pilot.press(*["backspace"] * 5)
        await until(pilot, "3 shown")
        pilot.app.screen.set_focus(None)
        await pilot.press("t")
        await until(pilot, "2 shown (state active)")
        assert "Alan Turing" not in on_screen(pilot)
        assert ("keys", {"text": "", "state": "active"}) in source.commands
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(pilot.app.screen, KeysScreen), "the keys view closed")


async def test_a_privileged_dashboard_revokes_after_a_reason_and_a_confirmation() -> None:
    source = KeysSource()
    async with make_app(source).run_test(size=SIZE) as pilot:
        await pilot.press("k")
        await until(pilot, "3 shown")
        pilot.app.screen.query_one("#key-table").focus()
        await pilot.press("v")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ReasonScreen), "the reason asked")
        await pilot.press("down", "enter")  # stolen
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, KeyConfirmScreen), "the confirmation")
        assert "Revoke key 31000001 of Ada Lovelace (stolen)?" in on_screen(pilot)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, KeysScreen), "back to the keys")
        assert not [c for c in source.commands if c[0] == "revoke_key"], "saying no changes nothing"

        await pilot.press("v")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ReasonScreen), "the reason asked")
        await pilot.press("enter")  # lost
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, KeyConfirmScreen), "the confirmation")
        await pilot.press("y")
        await wait_for(pilot, lambda: ("revoke_key", {"identity": "31000001", "reason": "lost"}) in source.commands,
                       "the revocation sent")
        await until(pilot, "lost (lost)")

        await pilot.press("down", "n")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, KeyConfirmScreen), "the confirmation")
        assert "Replace the key of Grace Hopper?" in on_screen(pilot)
        await pilot.press("y")
        await wait_for(pilot, lambda: ("replace_key", {"upn": "grace@contoso.com"}) in source.commands,
                       "the replacement sent")
        await until(pilot, "revoked (replaced)")


async def test_a_read_only_dashboard_shows_the_keys_without_acting() -> None:
    source = KeysSource(read_only=True)
    notes = Notes()
    async with make_app(source, mode="monitor").run_test(size=SIZE, message_hook=notes) as pilot:
        await pilot.press("k")
        await until(pilot, "3 shown", "read-only")
        pilot.app.screen.query_one("#key-table").focus()
        await pilot.press("v", "n")
        await wait_for(pilot, notes.seen(READ_ONLY_KEYS, times=2), "both actions refused as read-only")
        assert isinstance(pilot.app.screen, KeysScreen)
        assert [c[0] for c in source.commands] == ["keys"]
