"""The key-model catalogue: AAGUID → what FIDO's metadata says about the model, indexed once.

``KeyCatalogue.from_payload`` walks a verified MDS3 payload once and keeps, per AAGUID, the model's name,
status reports, certification level and attestation roots (a dict lookup per key afterwards: inserting a
key costs the same with or without metadata). Without a BLOB, ``KeyCatalogue.builtin()`` names models from
a table generated from MDS data (``data/aaguid-names.json``, ``scripts/gen_aaguid_names.py``). A model
nobody knows is "Security key (AAGUID …)" — never the USB product or NFC reader name.
"""

from __future__ import annotations

import json
from base64 import b64decode
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Final
from uuid import UUID

# Status reports that mean no key of this model should be trusted with a passkey.
COMPROMISED: Final = frozenset({"ATTESTATION_KEY_COMPROMISE", "USER_VERIFICATION_BYPASS", "USER_KEY_REMOTE_COMPROMISE",
                                "USER_KEY_PHYSICAL_COMPROMISE", "REVOKED"})
CERTIFICATION_LEVELS: Final = ("FIDO_CERTIFIED_L3plus", "FIDO_CERTIFIED_L3", "FIDO_CERTIFIED_L2plus",
                               "FIDO_CERTIFIED_L2", "FIDO_CERTIFIED_L1plus", "FIDO_CERTIFIED_L1", "FIDO_CERTIFIED",
                               "NOT_FIDO_CERTIFIED")
# Station's own virtual keys (station emulate key), which no MDS lists.
VIRTUAL_MODELS: Final = {
    "5a7e0000-2100-4000-8000-5a7e10000021": "Virtual Key 2.1",
    "5a7e0000-2000-4000-8000-5a7e10000020": "Virtual Key 2.0",
}
_ICONS: Final = ("icon", "iconDark", "providerLogoLight", "providerLogoDark", "tcDisplayPNGCharacteristics")


@dataclass(frozen=True)
class StatusReport:
    status: str
    effective_date: str = ""
    url: str = ""


@dataclass(frozen=True)
class ModelFacts:
    """One model as the metadata describes it. ``entry_json`` is its MDS entry without icons, as JSON text
    (parsed only when an attestation is checked: one string per model keeps the garbage collector's work
    the same with or without metadata)."""

    aaguid: str
    name: str
    status_reports: tuple[StatusReport, ...] = ()
    roots: tuple[bytes, ...] = ()
    entry_json: str = ""

    @property
    def certification(self) -> str:
        """The highest FIDO certification the status reports name, else "not listed"."""
        statuses = {r.status for r in self.status_reports}
        return next((level for level in CERTIFICATION_LEVELS if level in statuses), "not listed")

    @property
    def compromise(self) -> StatusReport | None:
        """The latest status report that makes the model untrustworthy, if any."""
        bad = [r for r in self.status_reports if r.status in COMPROMISED]
        return max(bad, key=lambda r: r.effective_date) if bad else None


class KeyCatalogue:
    """AAGUID → ModelFacts. ``source`` says where the facts come from (for status lines and ``mds show``)."""

    def __init__(self, models: dict[str, ModelFacts], *, source: str, loaded: bool) -> None:
        self._models = models
        self.source = source
        self.loaded = loaded

    @classmethod
    def builtin(cls) -> KeyCatalogue:
        return _builtin()

    @classmethod
    def from_payload(cls, payload: dict[str, Any], source: str) -> KeyCatalogue:
        names = _builtin_names()
        models: dict[str, ModelFacts] = {}
        for entry in payload.get("entries") or []:
            aaguid = str(entry.get("aaguid") or "").lower()
            if not aaguid:
                continue
            statement = {k: v for k, v in (entry.get("metadataStatement") or {}).items() if k not in _ICONS}
            models[aaguid] = ModelFacts(
                aaguid=aaguid,
                name=str(statement.get("description") or names.get(aaguid) or unknown_model(aaguid)),
                status_reports=tuple(StatusReport(str(r.get("status")), str(r.get("effectiveDate") or ""),
                                                  str(r.get("url") or ""))
                                     for r in entry.get("statusReports") or []),
                roots=tuple(b64decode(c) for c in statement.get("attestationRootCertificates") or []),
                entry_json=json.dumps({**entry, "metadataStatement": statement} if statement else entry),
            )
        return cls(models, source=source, loaded=True)

    def __len__(self) -> int:
        return len(self._models)

    def get(self, aaguid: str) -> ModelFacts | None:
        return self._models.get(aaguid.lower())

    def name(self, aaguid: str) -> str:
        """The model's name; "Security key (AAGUID …)" when neither the metadata nor Station knows it."""
        key = aaguid.lower()
        facts = self._models.get(key)
        if facts is not None:
            return facts.name
        return VIRTUAL_MODELS.get(key) or _builtin_names().get(key) or unknown_model(key)


def unknown_model(aaguid: str) -> str:
    if UUID(aaguid).int == 0:
        return "Security key (no AAGUID)"
    return f"Security key (AAGUID {aaguid})"


@cache
def _builtin_names() -> dict[str, str]:
    table = resources.files("station.keys").joinpath("data", "aaguid-names.json").read_text(encoding="utf-8")
    names: dict[str, str] = json.loads(table)["names"]
    return names


@cache
def _builtin() -> KeyCatalogue:
    return KeyCatalogue({}, source="built-in names (no FIDO metadata loaded)", loaded=False)
