"""Drift between the inventory and Entra ID (``station keys verify``), read-only.

For each person holding a key in the inventory, their passkeys in Entra ID are listed and compared: a live
key whose passkey is gone from Entra ID (deleted in My Sign-ins or by an administrator), a revoked key whose
passkey Entra ID still has, passkeys registered elsewhere (not by Station), a passkey whose model (AAGUID)
is not the key's, a person Entra ID no longer knows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from station.errors import GraphError
from station.states import KeyState
from station.store.inventory import KeyView


class Method(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def aaguid(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def display_name(self) -> str: ...


class MethodLister(Protocol):
    def list_methods(self, user_id: str) -> list[Any]: ...


@dataclass(frozen=True)
class Drift:
    kind: str  # removed_in_entra | still_in_entra | registered_elsewhere | model_mismatch | person_gone
    upn: str
    key: str
    method_id: str
    detail: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def find_drift(keys: Iterable[KeyView], passkeys: MethodLister) -> tuple[int, list[Drift]]:
    """(people checked, drift found) for these inventory rows."""
    by_person: dict[int, list[KeyView]] = {}
    for key in keys:
        by_person.setdefault(key.person_id, []).append(key)
    found: list[Drift] = []
    for records in by_person.values():
        found.extend(_person_drift(records, passkeys))
    return len(by_person), found


def _person_drift(records: list[KeyView], passkeys: MethodLister) -> list[Drift]:
    first = records[0]
    try:
        methods: dict[str, Method] = {m.id: m for m in passkeys.list_methods(first.object_id or first.upn)}
    except GraphError as e:
        if e.status != 404:
            raise
        return [Drift("person_gone", first.upn, k.identity, k.method_id or "", "Entra ID no longer knows this person")
                for k in records if KeyState(k.state).holds_live_passkey]
    found: list[Drift] = []
    for key in records:
        method = methods.get(key.method_id or "")
        live = KeyState(key.state).holds_live_passkey
        if live and method is None:
            found.append(Drift("removed_in_entra", key.upn, key.identity, key.method_id or "",
                               "the key's passkey is no longer in Entra ID"))
        elif not live and method is not None:
            found.append(Drift("still_in_entra", key.upn, key.identity, method.id,
                               f"the key is {key.state} but Entra ID still has its passkey"))
        if method is not None and key.aaguid and method.aaguid and method.aaguid.lower() != key.aaguid.lower():
            found.append(Drift("model_mismatch", key.upn, key.identity, method.id,
                               f"Entra ID says {method.model or method.aaguid}, the inventory {key.model}"))
    known = {k.method_id for k in records}
    for method in methods.values():
        if method.id not in known:
            found.append(Drift("registered_elsewhere", first.upn, "", method.id,
                               f"a passkey Station did not enrol: {method.display_name or method.model}"))
    return found
