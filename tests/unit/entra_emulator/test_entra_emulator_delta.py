"""users/delta bookkeeping: a round sees every user; the next sees only what changed, removals included."""

from __future__ import annotations

from station_emulator.entra.tenant import AppRegistration, Tenant


def make_tenant(n: int) -> Tenant:
    t = Tenant(tenant_id="t", domain="d", app=AppRegistration("c", "s"), attestation_enforced=True)
    for i in range(n):
        t.add_user({"id": f"u{i:03d}", "userPrincipalName": f"u{i}@d", "displayName": f"U {i}"})
    return t


def drain(t: Tenant, since: int | None, upto: int, size: int = 4, after: str = "") -> list[tuple[str, bool]]:
    out: list[tuple[str, bool]] = []
    more = True
    while more:
        page, more = t.delta_page(since, upto, after, size)
        out += page
        after = page[-1][0] if page else after
    return out


def test_initial_round_then_changes_only() -> None:
    t = make_tenant(10)
    mark = t.change_sequence
    assert [uid for uid, _ in drain(t, None, mark)] == [f"u{i:03d}" for i in range(10)]
    t.update_user("u003", {"displayName": "Changed"})
    t.remove_user("u007")
    t.add_user({"id": "u100", "userPrincipalName": "new@d", "displayName": "New"})
    changes = drain(t, mark, t.change_sequence)
    assert changes == [("u003", False), ("u007", True), ("u100", False)]
    assert drain(t, t.change_sequence, t.change_sequence) == []


def test_a_change_during_a_round_is_not_lost() -> None:
    t = make_tenant(8)
    mark = t.change_sequence
    first, _ = t.delta_page(None, mark, "", 4)
    t.update_user("u006", {"displayName": "Changed mid-round"})
    rest = drain(t, None, mark, after=first[-1][0])
    assert len(first) + len(rest) == 8
    assert drain(t, mark, t.change_sequence) == [("u006", False)]
