"""The key inventory: every key Station enrolled, who holds it, and what has become of it since.

A row is written in the same transaction that finishes its enrolment (``Journal.advance`` to ``done``), and
a store migration fills it from the journal for keys enrolled before the inventory existed. Lifecycle
operations (``station keys revoke``) move a row through ``revoking`` (the intent, recorded before Graph is
called) to ``revoked`` or ``lost``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from station.errors import InvalidStateError, NotFoundError
from station.store.models import KeyRecord, KeyState, now

_KEY_COLUMNS = ("id", "enrolment_id", "identity", "serial", "aaguid", "model", "firmware", "person_id",
                "method_id", "credential_id", "station_id", "state", "reason", "enrolled_at", "revoked_at",
                "updated_at")
_SELECT = (f"SELECT {', '.join('k.' + c for c in _KEY_COLUMNS)}, p.upn, p.display_name, p.object_id "
           f"FROM {KeyRecord.__tablename__} k JOIN person p ON p.id = k.person_id")
_INSERT = text(
    f"INSERT INTO {KeyRecord.__tablename__} (enrolment_id, identity, serial, aaguid, model, firmware, person_id, "
    "method_id, credential_id, station_id, state, enrolled_at, updated_at) SELECT :enrolment_id, :identity, "
    ":serial, :aaguid, :model, :firmware, :person_id, :method_id, :credential_id, :station_id, :state, :at, :at "
    f"WHERE NOT EXISTS (SELECT 1 FROM {KeyRecord.__tablename__} WHERE enrolment_id = :enrolment_id)")


def identity_for(serial: str | None, credential_id: str | None) -> str:
    """The key's serial where it has one, else a fingerprint of the passkey Station put on it."""
    if serial:
        return serial
    digest = hashlib.sha256((credential_id or "").encode()).hexdigest()[:16]
    return f"fp:{digest}"


def record_enrolled(conn: Connection, row: Mapping[str, Any], at: float | None = None) -> None:
    """Add the key of a finished enrolment (a journal row as a mapping) to the inventory, once."""
    conn.execute(_INSERT, {
        "enrolment_id": row["id"], "identity": identity_for(row.get("key_serial"), row.get("credential_id")),
        "serial": row.get("key_serial") or None, "aaguid": row.get("aaguid") or "", "model": row.get("model") or "",
        "firmware": row.get("firmware") or "", "person_id": row["person_id"], "method_id": row.get("method_id"),
        "credential_id": row.get("credential_id"), "station_id": row.get("station_id") or "",
        "state": KeyState.ACTIVE.value, "at": at if at is not None else now(),
    })


@dataclass(frozen=True)
class KeyView:
    """A detached inventory row with its holder."""

    id: int
    enrolment_id: int
    identity: str
    serial: str | None
    aaguid: str
    model: str
    firmware: str
    person_id: int
    method_id: str | None
    credential_id: str | None
    station_id: str
    state: str
    reason: str | None
    enrolled_at: float
    revoked_at: float | None
    updated_at: float
    upn: str
    display_name: str
    object_id: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class KeyFilter:
    state: str | None = None
    person: str | None = None
    model: str | None = None
    station: str | None = None


class Inventory:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _query(self, where: str = "", params: Mapping[str, Any] | None = None) -> list[KeyView]:
        sql = f"{_SELECT}{' WHERE ' + where if where else ''} ORDER BY k.id"
        with self.engine.connect() as conn:
            return [KeyView(**r) for r in conn.execute(text(sql), dict(params or {})).mappings().all()]

    def find(self, wanted: KeyFilter | None = None) -> list[KeyView]:
        wanted = wanted or KeyFilter()
        clauses, params = [], {}
        if wanted.state:
            clauses.append("k.state = :state")
            params["state"] = wanted.state
        if wanted.person:
            clauses.append("(lower(p.upn) = lower(:person) OR p.object_id = :person)")
            params["person"] = wanted.person
        if wanted.model:
            clauses.append("lower(k.model) LIKE lower(:model)")
            params["model"] = f"%{wanted.model}%"
        if wanted.station:
            clauses.append("k.station_id = :station")
            params["station"] = wanted.station
        return self._query(" AND ".join(clauses), params)

    def get(self, key_id: int) -> KeyView:
        found = self._query("k.id = :id", {"id": key_id})
        if not found:
            raise NotFoundError(f"no key {key_id} in the inventory")
        return found[0]

    def by_serial(self, serial: str) -> list[KeyView]:
        """Every record of the key with this serial (or identity), newest last."""
        return self._query("(k.serial = :s OR k.identity = :s)", {"s": serial})

    def of_person(self, person_id: int) -> list[KeyView]:
        return self._query("k.person_id = :pid", {"pid": person_id})

    def held_of_model(self, aaguid: str, limit: int) -> list[KeyView]:
        """Records of keys of this model not reset since (the key may still hold the passkey), newest first."""
        views = self._query("k.aaguid = :aaguid AND k.state <> :reset AND k.credential_id IS NOT NULL",
                            {"aaguid": aaguid, "reset": KeyState.RESET.value})
        return views[::-1][:limit]

    def requeue_ahead(self, person_id: int, note: str) -> None:
        """Queue a person again ahead of everyone waiting (priority above the highest), attempts restored."""
        with self.engine.begin() as conn:
            top = conn.execute(text("SELECT COALESCE(MAX(priority), 0) FROM person")).scalar_one()
            conn.execute(text("UPDATE person SET state = 'queued', priority = :priority, failures = 0, note = :note, "
                              "lease_station = NULL, lease_expires = NULL, updated_at = :at WHERE id = :id"),
                         {"priority": int(top) + 1, "note": note[:1024], "at": now(), "id": person_id})

    def begin_revoke(self, key_id: int, reason: str) -> KeyView:
        """Record the intent to revoke (before Graph is called); a row already ``revoking`` keeps its reason."""
        with self.engine.begin() as conn:
            conn.execute(text(f"UPDATE {KeyRecord.__tablename__} SET state = :revoking, reason = :reason, "
                              "updated_at = :at WHERE id = :id AND state = :active"),
                         {"revoking": KeyState.REVOKING.value, "active": KeyState.ACTIVE.value, "reason": reason,
                          "at": now(), "id": key_id})
        view = self.get(key_id)
        if view.state != KeyState.REVOKING.value:
            raise InvalidStateError(f"key {view.identity} is {view.state}, not active")
        return view

    def finish_revoke(self, key_id: int, state: KeyState) -> KeyView:
        at = now()
        self._set(key_id, state, revoked_at=at, only_from=(KeyState.REVOKING,))
        return self.get(key_id)

    def mark(self, key_id: int, state: KeyState, *, only_from: tuple[KeyState, ...] = ()) -> bool:
        """Move a record to ``state`` (when it is in one of ``only_from``, if given); True when it moved."""
        return self._set(key_id, state, only_from=only_from)

    def _set(self, key_id: int, state: KeyState, *, revoked_at: float | None = None,
             only_from: tuple[KeyState, ...] = ()) -> bool:
        params: dict[str, Any] = {"state": state.value, "at": now(), "id": key_id}
        sets = "state = :state, updated_at = :at"
        if revoked_at is not None:
            sets += ", revoked_at = :revoked_at"
            params["revoked_at"] = revoked_at
        where = "id = :id"
        if only_from:
            names = [f":from{i}" for i in range(len(only_from))]
            where += f" AND state IN ({', '.join(names)})"
            params.update({f"from{i}": s.value for i, s in enumerate(only_from)})
        with self.engine.begin() as conn:
            moved = conn.execute(text(f"UPDATE {KeyRecord.__tablename__} SET {sets} WHERE {where}"), params)
        return bool(moved.rowcount)
