"""Keys handed out for self-activation: who got which key (serial, model), the Temporary Access Pass made for
them (its Graph id, expiry, and the pass sealed to the escrow key — never in clear), and what became of it.

States: ``handed_out`` (TAP live, waiting for the person's passkey), ``active`` (a passkey of the key's model
appeared after the hand-out), ``expired`` (the TAP ran out, or was used, without that passkey), ``replaced``
(a newer hand-out for the same person took its place).

A hand-out may ask for its key to be prepared at the station (``key_preparation``): ``waiting`` until a key is
inserted there, ``pin_escrowed`` once the station drew a PIN for it and stored it sealed on the row
(``pin_sealed``, before the key is told), ``prepared`` once the key was reset and holds that PIN. The prepared
key's serial and model replace what the hand-out was given.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Field, SQLModel

from station.errors import NotFoundError
from station.store.models import now
from station.wire import DelegatedCounts


class HandoutState(StrEnum):
    HANDED_OUT = "handed_out"
    ACTIVE = "active"
    EXPIRED = "expired"
    REPLACED = "replaced"


class KeyPreparation(StrEnum):
    WAITING = "waiting"
    PIN_ESCROWED = "pin_escrowed"
    PREPARED = "prepared"


WAITING_FOR_KEY = (KeyPreparation.WAITING.value, KeyPreparation.PIN_ESCROWED.value)


class KeyHandout(SQLModel, table=True):
    __tablename__ = "key_handout"

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    key_serial: str | None = Field(default=None, max_length=128)
    aaguid: str = Field(default="", max_length=36)
    model: str = Field(default="", max_length=128)
    state: str = Field(default=HandoutState.HANDED_OUT.value, index=True, max_length=16)
    tap_method_id: str | None = Field(default=None, max_length=256)
    tap_sealed: str | None = None
    tap_start: float | None = None
    tap_expires_at: float | None = None
    tap_usable_once: bool = True
    method_id: str | None = Field(default=None, max_length=1024)
    station_id: str = Field(default="", max_length=64)
    note: str = Field(default="", max_length=512)
    handed_out_at: float = Field(default_factory=now)
    updated_at: float = Field(default_factory=now)
    key_preparation: str | None = Field(default=None, max_length=16)
    pin_sealed: str | None = None


def tap_context(handout_id: int) -> str:
    """The escrow context a hand-out's TAP is sealed under (it opens for this row only)."""
    return f"station handout {handout_id}"


_SEALED = ("tap_sealed", "pin_sealed")
_COLUMNS = [c for c in KeyHandout.model_fields if c not in _SEALED]
_SELECT = (f"SELECT {', '.join('h.' + c for c in _COLUMNS)}, h.tap_sealed, h.pin_sealed, p.upn, p.display_name, "
           "p.object_id, p.preferred_language "
           "FROM key_handout h JOIN person p ON p.id = h.person_id")


@dataclass(frozen=True)
class HandoutView:
    id: int
    person_id: int
    key_serial: str | None
    aaguid: str
    model: str
    state: str
    tap_method_id: str | None
    tap_start: float | None
    tap_expires_at: float | None
    tap_usable_once: bool
    method_id: str | None
    station_id: str
    note: str
    handed_out_at: float
    updated_at: float
    tap_sealed: str | None
    upn: str
    display_name: str
    object_id: str | None
    preferred_language: str | None  # the person's, from Entra ID: their letter's language
    key_preparation: str | None = None
    pin_sealed: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Everything but the sealed TAP and PIN."""
        out = asdict(self)
        for sealed in _SEALED:
            out.pop(sealed)
        return out


class Handouts:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _query(self, where: str = "", params: dict[str, Any] | None = None) -> list[HandoutView]:
        sql = f"{_SELECT}{' WHERE ' + where if where else ''} ORDER BY h.id"
        with self.engine.connect() as conn:
            rows = conn.execute(text(sql), params or {}).mappings().all()
        return [HandoutView(**{**r, "tap_usable_once": bool(r["tap_usable_once"])}) for r in rows]

    def get(self, handout_id: int) -> HandoutView:
        found = self._query("h.id = :id", {"id": handout_id})
        if not found:
            raise NotFoundError(f"no hand-out {handout_id}")
        return found[0]

    def find(self, *states: HandoutState) -> list[HandoutView]:
        if not states:
            return self._query()
        names = {f"s{i}": s.value for i, s in enumerate(states)}
        return self._query(f"h.state IN ({', '.join(':' + n for n in names)})", names)

    def start(self, person_id: int, *, key_serial: str | None, aaguid: str, model: str, station_id: str,
              prepare_key: bool = False) -> int:
        """Record a new hand-out; the person's earlier hand-outs still waiting, or expired, become ``replaced``.
        With ``prepare_key`` it waits for its key to be prepared at ``station_id``."""
        at = now()
        with self.engine.begin() as conn:
            conn.execute(text("UPDATE key_handout SET state = :replaced, tap_sealed = NULL, updated_at = :at "
                              "WHERE person_id = :pid AND state IN (:waiting, :expired)"),
                         {"replaced": HandoutState.REPLACED.value, "waiting": HandoutState.HANDED_OUT.value,
                          "expired": HandoutState.EXPIRED.value,
                          "at": at, "pid": person_id})
            row = conn.execute(text(
                "INSERT INTO key_handout (person_id, key_serial, aaguid, model, state, tap_usable_once, station_id, "
                "note, handed_out_at, updated_at, key_preparation) VALUES (:pid, :serial, :aaguid, :model, :state, "
                ":once, :station, '', :at, :at, :prep) RETURNING id"),
                {"pid": person_id, "serial": key_serial, "aaguid": aaguid, "model": model, "once": True,
                 "state": HandoutState.HANDED_OUT.value, "station": station_id, "at": at,
                 "prep": KeyPreparation.WAITING.value if prepare_key else None}).scalar_one()
        return int(row)

    def set_tap(self, handout_id: int, *, method_id: str, sealed: str, start: float, expires_at: float,
                usable_once: bool) -> None:
        with self.engine.begin() as conn:
            conn.execute(text("UPDATE key_handout SET tap_method_id = :mid, tap_sealed = :sealed, tap_start = :start,"
                              " tap_expires_at = :exp, tap_usable_once = :once, updated_at = :at WHERE id = :id"),
                         {"mid": method_id, "sealed": sealed, "start": start, "exp": expires_at, "once": usable_once,
                          "at": now(), "id": handout_id})

    def settle(self, handout_id: int, state: HandoutState, *, note: str = "", method_id: str | None = None) -> None:
        """Move a waiting hand-out to ``active`` or ``expired``; its sealed TAP is dropped (no longer of use)."""
        with self.engine.begin() as conn:
            conn.execute(text("UPDATE key_handout SET state = :state, note = :note, method_id = :mid, "
                              "tap_sealed = NULL, updated_at = :at WHERE id = :id AND state = :waiting"),
                         {"state": state.value, "note": note[:512], "mid": method_id, "at": now(), "id": handout_id,
                          "waiting": HandoutState.HANDED_OUT.value})

    def waiting_for_key(self, station_id: str) -> list[HandoutView]:
        """Waiting hand-outs whose key is still to be prepared at ``station_id``, oldest first."""
        return self._query("h.state = :waiting AND h.station_id = :sid AND h.key_preparation IN (:w, :e)",
                           {"waiting": HandoutState.HANDED_OUT.value, "sid": station_id,
                            "w": WAITING_FOR_KEY[0], "e": WAITING_FOR_KEY[1]})

    def pin_escrowed(self, handout_id: int, *, sealed: str, key_serial: str | None, aaguid: str,
                     model: str) -> bool:
        """Store the sealed PIN drawn for the hand-out's key, and the key (before the key is given the PIN);
        False when the hand-out no longer waits for a key (replaced or settled meanwhile)."""
        with self.engine.begin() as conn:
            done = conn.execute(text(
                "UPDATE key_handout SET pin_sealed = :sealed, key_preparation = :escrowed, "
                "key_serial = COALESCE(:serial, key_serial), aaguid = :aaguid, model = :model, updated_at = :at "
                "WHERE id = :id AND state = :waiting AND key_preparation IN (:w, :e)"),
                {"sealed": sealed, "escrowed": KeyPreparation.PIN_ESCROWED.value, "serial": key_serial,
                 "aaguid": aaguid.lower(), "model": model[:128], "at": now(), "id": handout_id,
                 "waiting": HandoutState.HANDED_OUT.value, "w": WAITING_FOR_KEY[0], "e": WAITING_FOR_KEY[1]})
        return done.rowcount == 1

    def key_prepared(self, handout_id: int) -> None:
        """The hand-out's key holds the PIN sealed on its row."""
        with self.engine.begin() as conn:
            conn.execute(text("UPDATE key_handout SET key_preparation = :prepared, updated_at = :at "
                              "WHERE id = :id AND key_preparation = :escrowed"),
                         {"prepared": KeyPreparation.PREPARED.value, "escrowed": KeyPreparation.PIN_ESCROWED.value,
                          "at": now(), "id": handout_id})

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT state, COUNT(*) FROM key_handout GROUP BY state")).all()
        return {str(state): int(n) for state, n in rows}

    def delegated(self) -> DelegatedCounts:
        """Keys handed out and waiting, activated, and whose TAP expired unused (status and reports)."""
        counts = self.counts()
        return {"handed_out": counts.get(HandoutState.HANDED_OUT.value, 0),
                "active": counts.get(HandoutState.ACTIVE.value, 0),
                "expired": counts.get(HandoutState.EXPIRED.value, 0)}
