"""The emulated tenant's Temporary Access Passes: one live TAP per user, and the TAP method policy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from station_emulator.entra.protocol import iso_time


def default_tap_policy() -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.temporaryAccessPassAuthenticationMethodConfiguration",
        "id": "TemporaryAccessPass", "state": "enabled", "defaultLifetimeInMinutes": 60, "defaultLength": 8,
        "minimumLifetimeInMinutes": 60, "maximumLifetimeInMinutes": 480, "isUsableOnce": False,
        "includeTargets": [{"targetType": "group", "id": "all_users", "isRegistrationRequired": False}],
    }


@dataclass
class TapMethod:
    id: str
    user_id: str
    secret: str
    created: float
    lifetime_minutes: int
    usable_once: bool
    used: bool = False

    def reason(self, now: float) -> str:
        if self.used and self.usable_once:
            return "OneTimeUsed"
        if now > self.created + self.lifetime_minutes * 60:
            return "Expired"
        return "EnabledByPolicy"

    def to_graph(self, now: float, *, with_secret: bool = False) -> dict[str, Any]:
        reason = self.reason(now)
        return {
            "@odata.type": "#microsoft.graph.temporaryAccessPassAuthenticationMethod", "id": self.id,
            "temporaryAccessPass": self.secret if with_secret else None, "createdDateTime": iso_time(self.created),
            "startDateTime": iso_time(self.created), "lifetimeInMinutes": self.lifetime_minutes,
            "isUsableOnce": self.usable_once, "isUsable": reason == "EnabledByPolicy",
            "methodUsabilityReason": reason,
        }
