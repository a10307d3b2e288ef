"""`station keys verify`'s comparison of the inventory with Entra ID: every kind of drift, and none on a clean
tenant. The Entra side is a dict of the passkeys each user has (what Graph's list answers)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from station.errors import GraphError, Reason
from station.lifecycle.drift import find_drift
from station.store.inventory import KeyView

YK = "ee882879-721c-4913-9775-3dfcce97072a"
TITAN = "42b4fb4a-2866-43b2-9bf7-6c6669c2e5d3"


@dataclass(frozen=True)
class Method:
    id: str
    aaguid: str
    model: str = ""
    display_name: str = ""


class Tenant:
    def __init__(self, methods: dict[str, list[Method]]) -> None:
        self.methods = methods

    def list_methods(self, user_id: str) -> list[Method]:
        if user_id not in self.methods:
            raise GraphError(f"user {user_id} not found", status=404, reason=Reason.USER_NOT_FOUND)
        return self.methods[user_id]


def key(n: int, person: str, state: str = "active", aaguid: str = YK) -> KeyView:
    return KeyView(id=n, enrolment_id=n, identity=f"SN{n}", serial=f"SN{n}", aaguid=aaguid, model="YubiKey 5",
                   firmware="5.7.1", person_id=ord(person[0]), method_id=f"m{n}", credential_id=f"c{n}",
                   station_id="desk-1", state=state, reason=None, enrolled_at=1.0, revoked_at=None, updated_at=1.0,
                   upn=f"{person}@x.com", display_name=person, object_id=person)


def test_a_clean_tenant_has_no_drift() -> None:
    keys = [key(1, "ann"), key(2, "bo"), key(3, "cy", state="lost")]
    assert find_drift(keys, Tenant({"ann": [Method("m1", YK)], "bo": [Method("m2", YK)], "cy": []})) == (3, [])


@pytest.mark.parametrize(("keys", "methods", "kind"), [
    ([key(1, "ann")], {"ann": []}, "removed_in_entra"),
    ([key(1, "ann", state="revoked")], {"ann": [Method("m1", YK)]}, "still_in_entra"),
    ([key(1, "ann")], {"ann": [Method("m1", YK), Method("other", YK, display_name="phone")]}, "registered_elsewhere"),
    ([key(1, "ann")], {"ann": [Method("m1", TITAN, model="Titan")]}, "model_mismatch"),
    ([key(1, "ann")], {}, "person_gone"),
])
def test_each_kind_of_drift_is_found(keys: list[KeyView], methods: dict[str, list[Method]], kind: str) -> None:
    checked, drift = find_drift(keys, Tenant(methods))
    assert checked == 1 and [d.kind for d in drift] == [kind]
    assert drift[0].upn == "ann@x.com"


def test_a_revoked_key_of_a_person_gone_is_no_drift() -> None:
    assert find_drift([replace(key(1, "ann"), state="revoked")], Tenant({})) == (1, [])


def test_graph_failures_other_than_404_are_not_taken_for_drift() -> None:
    class Down:
        def list_methods(self, user_id: str) -> list[Method]:
            raise GraphError("Graph is unavailable", status=503, reason=Reason.GRAPH_UNAVAILABLE)

    with pytest.raises(GraphError):
        find_drift([key(1, "ann")], Down())
