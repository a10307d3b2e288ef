"""`station keys verify`'s comparison of the inventory with Entra ID: every kind of drift, and none on a clean
tenant. The Entra side is a dict of the passkeys each user has (what Graph's list answers)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace

import pytest

from station.cli import main
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


class SlowTenant(Tenant):
    """Answers after a pause, counting how many people are being asked about at once."""

    def __init__(self, methods: dict[str, list[Method]], *, fail_for: str = "") -> None:
        super().__init__(methods)
        self.fail_for = fail_for
        self.lock = threading.Lock()
        self.in_flight = self.most_in_flight = self.calls = 0

    def list_methods(self, user_id: str) -> list[Method]:
        with self.lock:
            self.in_flight += 1
            self.calls += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            time.sleep(0.02)
            if user_id == self.fail_for:
                raise GraphError("Forbidden", status=403, reason=Reason.GRAPH_DENIED)
            return super().list_methods(user_id)
        finally:
            with self.lock:
                self.in_flight -= 1


PEOPLE = [f"p{n:03d}" for n in range(60)]


def keys_of_people() -> list[KeyView]:
    return [replace(key(n, p), person_id=1000 + n) for n, p in enumerate(PEOPLE)]


def test_people_are_asked_about_several_at_once_with_the_same_answer_in_the_same_order() -> None:
    keys = keys_of_people()
    methods = {p: ([Method(f"m{n}", YK)] if n % 3 else []) for n, p in enumerate(PEOPLE)}
    one_at_a_time = find_drift(keys, SlowTenant(methods))
    tenant, seen = SlowTenant(methods), []
    assert find_drift(keys, tenant, workers=8, progress=lambda done, total: seen.append((done, total))) \
        == one_at_a_time
    assert 1 < tenant.most_in_flight <= 8 and tenant.calls == len(PEOPLE)
    assert seen[-1] == (60, 60) and [d for d, _ in seen] == list(range(1, 61))
    assert [d.upn for d in one_at_a_time[1]] == [f"{p}@x.com" for n, p in enumerate(PEOPLE) if n % 3 == 0]


def test_a_refusal_for_one_person_stops_the_check_and_is_raised() -> None:
    keys = keys_of_people()
    tenant = SlowTenant({p: [] for p in PEOPLE}, fail_for="p005")
    with pytest.raises(GraphError, match="Forbidden"):
        find_drift(keys, tenant, workers=4)
    assert tenant.calls < len(PEOPLE), "the people not yet asked about are not asked once the check has failed"


@pytest.mark.parametrize("value", ["0", "33", "many"])
def test_verify_refuses_a_concurrency_out_of_range_by_name(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["keys", "verify", "--concurrency", value])
    assert exit_.value.code == 2
    assert f"{value!r}: give a whole number from 1 to 32" in capsys.readouterr().err
