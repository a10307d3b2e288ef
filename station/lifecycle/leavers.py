"""Leavers: people holding a live key Station enrolled who are gone from the directory (deleted in Entra ID)
or, imported from a rollout group, are in none of the imported groups any more. ``station sync`` reports them
or revokes their keys' passkeys (``[lifecycle] on_leaver``)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from station.lifecycle.revoke import Deleter, RevokeReason, revoke
from station.states import KeyState
from station.store import Store
from station.store.inventory import KeyView
from station.text import visible

GROUP_SOURCE = "group"
GONE = "gone from the directory"
LEFT_GROUP = "no longer in an imported rollout group"


@dataclass(frozen=True)
class Leaver:
    upn: str
    display_name: str
    why: str
    keys: tuple[KeyView, ...]


def find_leavers(keys: Iterable[KeyView], sources: dict[int, str], removed: Collection[str],
                 group_members: Collection[str] | None) -> list[Leaver]:
    """Holders of live keys deleted from the directory (``removed`` object ids) or, when groups were imported
    (``group_members`` not None), imported from a group (``sources``) and in none of them now."""
    held: dict[int, list[KeyView]] = {}
    for key in keys:
        if KeyState(key.state).holds_live_passkey:
            held.setdefault(key.person_id, []).append(key)
    leavers = []
    for person_id, records in held.items():
        first = records[0]
        if first.object_id and first.object_id in removed:
            why = GONE
        elif (group_members is not None and sources.get(person_id) == GROUP_SOURCE
              and first.object_id not in group_members):
            why = LEFT_GROUP
        else:
            continue
        leavers.append(Leaver(first.upn, first.display_name, why, tuple(records)))
    return leavers


def act_on_leavers(store: Store, passkeys: Deleter, on_leaver: str, removed: Collection[str],
                   group_members: Collection[str] | None) -> list[str]:
    """Report the leavers, or revoke their keys (``on_leaver = "revoke"``); one line for each, audited."""
    sources = {p.id: p.source for p in store.queue.list()}
    lines = []
    for leaver in find_leavers(store.inventory.find(), sources, removed, group_members):
        who, ids = visible(leaver.upn), [k.identity for k in leaver.keys]
        if on_leaver == "revoke":
            for key in leaver.keys:
                revoke(store.inventory, passkeys, store.audit, store.queue, key, RevokeReason.LEFT)
            lines.append(f"leaver {who} ({leaver.why}): {len(ids)} key(s) revoked: {', '.join(ids)}")
            continue
        store.audit.record("leaver_reported", person_id=leaver.keys[0].person_id, why=leaver.why, keys=ids)
        lines.append(f"leaver {who} ({leaver.why}) holds {len(ids)} key(s): {', '.join(ids)} — revoke with "
                     f"'station keys revoke --upn {who} --reason left', or set [lifecycle] on_leaver = \"revoke\"")
    return lines
