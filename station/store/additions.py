"""Planning one ``Queue.add_people`` call: which queued rows the incoming people match, what to insert and
update, and the key pre-assignments to upsert — so that a 100,000-member group is queued in seconds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import String, bindparam, text
from sqlalchemy.engine import Connection

from station.store.models import KeyAssignment, Person, PersonState, now

if TYPE_CHECKING:
    from station.store.queue import NewPerson

# Up to this many people are looked up by key (object id, UPN); more, and the key columns of the whole queue
# are read in one scan. An IN list of thousands of keys was measured at seconds per query on PostgreSQL
# right after a bulk load (stale statistics, a sequential scan per list); one scan costs ≈ 0.3 s per
# 100,000 queued people whatever the statistics say.
KEY_LOOKUP_LIMIT = 500
_PERSON = Person.__tablename__
_ASSIGNED = KeyAssignment.__tablename__
MATCHED = ("id", "upn", "display_name", "object_id", "preferred_language")
UPDATED = ("upn", "display_name", "object_id", "preferred_language", "updated_at")
INSERTED = ("upn", "display_name", "object_id", "preferred_language", "source", "priority", "state", "attempts",
            "note", "created_at", "updated_at")
UPDATE_PERSON = text(f"UPDATE {_PERSON} SET {', '.join(f'{c} = :{c}' for c in UPDATED)} WHERE id = :row_id")
_ALL_ROWS = text(f"SELECT {', '.join(MATCHED)} FROM {_PERSON}")
_MATCHING_ROWS = text(f"SELECT {', '.join(MATCHED)} FROM {_PERSON} WHERE upn IN :upns OR object_id IN :oids"
                      ).bindparams(bindparam("upns", expanding=True, type_=String),
                                   bindparam("oids", expanding=True, type_=String))  # typed: either may be empty
_IDS = text(f"SELECT upn, id FROM {_PERSON} WHERE upn IN :upns").bindparams(bindparam("upns", expanding=True))
# The same INSERT … ON CONFLICT on SQLite (3.24 and later) and PostgreSQL.
_ASSIGN = text(f"INSERT INTO {_ASSIGNED} (key_identity, person_id, created_at) VALUES (:key_identity, :person_id, "
               ":created_at) ON CONFLICT (key_identity) DO UPDATE SET person_id = excluded.person_id, "
               "created_at = excluded.created_at")


@dataclass
class Additions:
    """What one add_people call writes: rows to insert, rows to update (by id), key pre-assignments."""

    inserts: list[dict[str, Any]] = field(default_factory=list)
    updates: dict[int, dict[str, Any]] = field(default_factory=dict)
    keys: dict[str, dict[str, Any]] = field(default_factory=dict)
    added: int = 0
    updated: int = 0
    unchanged: int = 0


def matching_rows(conn: Connection, incoming: Sequence[NewPerson]) -> list[dict[str, Any]]:
    """The queued rows (id, upn, display_name, object_id) that any of ``incoming`` can match."""
    from station.store.queue import normalise_upn  # queue.py imports this module

    if len(incoming) > KEY_LOOKUP_LIMIT:
        rows = conn.execute(_ALL_ROWS).all()
    else:
        oids = list({p.object_id for p in incoming if p.object_id})
        upns = list({normalise_upn(p.upn) for p in incoming})
        rows = conn.execute(_MATCHING_ROWS, {"upns": upns, "oids": oids}).all()
    # tuples, not .mappings(): a mapping per row costs 2.5 times as much when the whole queue is read
    return [{"id": i, "upn": upn, "display_name": name, "object_id": oid, "preferred_language": language}
            for i, upn, name, oid, language in rows]


def plan_additions(existing: list[dict[str, Any]], incoming: Sequence[NewPerson]) -> Additions:
    from station.store.queue import normalise_upn  # queue.py imports this module

    plan = Additions()
    by_upn = {r["upn"]: r for r in existing}
    by_oid = {r["object_id"]: r for r in existing if r["object_id"]}
    t = now()
    # Those the queue knows by object id first (a renamed person gives up their old UPN), then the rest: so a
    # newcomer given a UPN that a queued person leaves in this same import gets a row of their own.
    order = sorted(range(len(incoming)), key=lambda i: incoming[i].object_id not in by_oid)
    key_holders: dict[str, tuple[int, dict[str, Any]]] = {}
    for index in order:
        new = incoming[index]
        upn = normalise_upn(new.upn)
        person = by_oid.get(new.object_id) if new.object_id else None
        if person is None and _may_be(by_upn.get(upn), new):
            person = by_upn[upn]
        if person is None:
            person = {"upn": upn, "display_name": new.display_name, "object_id": new.object_id,
                      "preferred_language": new.preferred_language, "source": new.source,
                      "priority": new.priority, "state": PersonState.QUEUED.value,
                      "attempts": 0, "note": "", "created_at": t, "updated_at": t}
            plan.inserts.append(person)
            plan.added += 1
        elif _apply_update(person, upn, new, t):
            if "id" in person:
                plan.updates[person["id"]] = person
            plan.updated += 1
        else:
            plan.unchanged += 1
        by_upn[person["upn"]] = person
        if person["object_id"]:
            by_oid[person["object_id"]] = person
        if new.key_serial and key_holders.get(new.key_serial, (-1, None))[0] < index:
            key_holders[new.key_serial] = (index, person)  # a key named twice goes to the later in the import
    plan.keys = {serial: person for serial, (_, person) in key_holders.items()}
    return plan


def _may_be(row: dict[str, Any] | None, new: NewPerson) -> bool:
    """Whether ``new`` may be the person of the queued ``row`` holding their UPN: not when both have object ids
    and they differ — then the UPN was handed to someone else, and taking the row would lose its person."""
    return row is not None and not (new.object_id and row["object_id"] and row["object_id"] != new.object_id)


def _apply_update(person: dict[str, Any], upn: str, new: NewPerson, t: float) -> bool:
    """Take ``new``'s UPN, and its name and object id when it has them; False when nothing changes."""
    changes = {"upn": upn, "display_name": new.display_name or person["display_name"],
               "object_id": new.object_id or person["object_id"],
               "preferred_language": new.preferred_language or person["preferred_language"]}
    if all(person[k] == v for k, v in changes.items()):
        return False
    person.update(changes, updated_at=t)
    return True


def assign_keys(conn: Connection, keys: dict[str, dict[str, Any]]) -> None:
    """Pre-assign each key identity to its person (inserted just now or already queued), replacing an
    earlier assignment of the same key."""
    unknown = [p["upn"] for p in keys.values() if "id" not in p]
    ids: dict[str, int | None] = {}
    for i in range(0, len(unknown), KEY_LOOKUP_LIMIT):
        chunk = unknown[i:i + KEY_LOOKUP_LIMIT]
        ids.update((upn, i) for upn, i in conn.execute(_IDS, {"upns": chunk}).all())
    t = now()
    conn.execute(_ASSIGN, [{"key_identity": key, "person_id": p["id"] if "id" in p else ids[p["upn"]], "created_at": t}
                        for key, p in keys.items()])
