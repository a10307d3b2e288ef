"""Temporary Access Pass calls: create one for a person (replacing any they have), list, delete, and read the
TAP method policy. The pass itself is returned by :meth:`TemporaryAccessPasses.create` only and never logged."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from station.entra.directory import user_path
from station.entra.http import GraphHttp
from station.errors import GraphError, Reason

log = logging.getLogger(__name__)

TAP_POLICY = "policies/authenticationMethodsPolicy/authenticationMethodConfigurations/temporaryAccessPass"


def _epoch(value: Any) -> float:
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


@dataclass(frozen=True)
class TapMethod:
    """One TAP as Graph describes it (``secret`` only in the answer to its creation; never in a repr)."""

    id: str
    start: float
    lifetime_minutes: int
    usable_once: bool
    usable: bool
    usability: str
    secret: str = field(default="", repr=False)

    @property
    def expires_at(self) -> float:
        return self.start + self.lifetime_minutes * 60

    @classmethod
    def of(cls, item: Mapping[str, Any]) -> TapMethod:
        return cls(id=str(item["id"]), start=_epoch(item.get("startDateTime") or item.get("createdDateTime")),
                   lifetime_minutes=int(item.get("lifetimeInMinutes") or 0),
                   usable_once=bool(item.get("isUsableOnce")), usable=bool(item.get("isUsable", True)),
                   usability=str(item.get("methodUsabilityReason") or ""),
                   secret=str(item.get("temporaryAccessPass") or ""))


@dataclass(frozen=True)
class TapPolicy:
    enabled: bool
    min_lifetime: int
    max_lifetime: int
    usable_once: bool


class TemporaryAccessPasses:
    def __init__(self, http: GraphHttp) -> None:
        self.http = http

    def _path(self, user_id: str) -> str:
        return f"{user_path(user_id)}/authentication/temporaryAccessPassMethods"

    def list(self, user_id: str) -> list[TapMethod]:
        body = self.http.get_json(self._path(user_id), purpose="tap", what=f"list the TAPs of {user_id}")
        return [TapMethod.of(item) for item in body.get("value") or []]

    def delete(self, user_id: str, method_id: str) -> bool:
        """Delete a TAP; False when it was already gone."""
        try:
            self.http.request("DELETE", f"{self._path(user_id)}/{method_id}", purpose="tap",
                              what=f"delete a TAP of {user_id}")
        except GraphError as e:
            if e.status == 404:
                return False
            raise
        return True

    def create(self, user_id: str, *, lifetime_minutes: int, usable_once: bool) -> TapMethod:
        """A new TAP for the person; any TAP they had is deleted first (a person has one live TAP at most)."""
        for old in self.list(user_id):
            self.delete(user_id, old.id)
        response = self.http.request("POST", self._path(user_id), purpose="tap", what=f"create a TAP for {user_id}",
                                     json={"lifetimeInMinutes": lifetime_minutes, "isUsableOnce": usable_once})
        try:
            tap = TapMethod.of(response.json())
        except (ValueError, KeyError, TypeError):
            tap = None
        if tap is None or not tap.secret:
            raise GraphError(f"create a TAP for {user_id}: Graph answered {response.status_code} without a pass",
                             status=response.status_code, reason=Reason.GRAPH_BAD_REQUEST,
                             remedy="Run the hand-out again: it replaces whatever TAP the person has.")
        log.info("TAP %s created for %s (%d min, once: %s)", tap.id, user_id, tap.lifetime_minutes, tap.usable_once)
        return tap

    def policy(self) -> TapPolicy:
        body = self.http.get_json(TAP_POLICY, purpose="policy", what="read the TAP method policy")
        return TapPolicy(enabled=body.get("state") == "enabled",
                         min_lifetime=int(body.get("minimumLifetimeInMinutes") or 0),
                         max_lifetime=int(body.get("maximumLifetimeInMinutes") or 0),
                         usable_once=bool(body.get("isUsableOnce")))
