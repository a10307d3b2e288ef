"""Drift between the inventory and Entra ID (``station keys verify``), read-only.

For each person holding a key in the inventory, their passkeys in Entra ID are listed and compared: a live
key whose passkey is gone from Entra ID (deleted in My Sign-ins or by an administrator), a revoked key whose
passkey Entra ID still has, passkeys registered elsewhere (not by Station), a passkey whose model (AAGUID)
is not the key's, a person Entra ID no longer knows. People are asked about ``workers`` at a time (one Graph
list call each, the Graph client waiting out any throttling), so 10,000 people take minutes, not an hour.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
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


def find_drift(keys: Iterable[KeyView], passkeys: MethodLister, *, workers: int = 1,
               progress: Callable[[int, int], None] | None = None) -> tuple[int, list[Drift]]:
    """(people checked, drift found) for these inventory rows, in the order of the rows. ``workers`` people are
    asked about at once; ``progress(done, total)`` hears of each person checked. The first Graph error other than
    a person gone stops the check and is raised."""
    by_person: dict[int, list[KeyView]] = {}
    for key in keys:
        by_person.setdefault(key.person_id, []).append(key)
    people = list(by_person.values())
    done, lock = 0, threading.Lock()

    def check(records: list[KeyView]) -> list[Drift]:
        return _person_drift(records, passkeys)

    def counted(_: Future[list[Drift]]) -> None:
        nonlocal done
        with lock:
            done += 1
            if progress is not None:
                progress(done, len(people))

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="keys-verify") as pool:
        futures = [pool.submit(check, records) for records in people]
        for future in futures:
            future.add_done_callback(counted)
        finished, _ = wait(futures, return_when=FIRST_EXCEPTION)
        failed = next((f for f in futures if f in finished and f.exception() is not None), None)
        if failed is not None:
            for future in futures:
                future.cancel()
            raise failed.exception()  # type: ignore[misc]
    return len(people), [d for future in futures for d in future.result()]


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
