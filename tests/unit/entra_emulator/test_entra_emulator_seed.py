"""Deterministic tenants: realistic international names, ASCII UPNs, the rollout group and its pilot."""

from __future__ import annotations

import random
import re

from station_emulator.entra.seed import GROUP_NAME, SUBGROUP_NAME, ascii_fold, populate
from station_emulator.entra.tenant import AppRegistration, Tenant


def tenant(users: int, seed: int = 1, group_size: int | None = None) -> Tenant:
    t = Tenant(tenant_id="t", domain="contoso.example", app=AppRegistration("c", "s"), attestation_enforced=True)
    populate(t, random.Random(seed), users=users, group_size=group_size)
    return t


def test_ascii_fold() -> None:
    assert ascii_fold("Ångström") == "angstrom"
    assert ascii_fold("Weiß") == "weiss"
    assert ascii_fold("Øvergaard") == "overgaard"
    assert ascii_fold("Łukasz") == "lukasz"
    assert ascii_fold("O'Brien") == "obrien"
    assert ascii_fold("Van der Berg") == "vanderberg"
    assert ascii_fold("Yılmaz") == "yilmaz"


def test_same_seed_same_people_other_seed_other_people() -> None:
    a, b, c = tenant(300, 9), tenant(300, 9), tenant(300, 10)
    assert [(u["id"], u["userPrincipalName"]) for u in a.users.values()] == \
        [(u["id"], u["userPrincipalName"]) for u in b.users.values()]
    assert list(a.users) != list(c.users)


def test_upns_are_unique_ascii_and_names_are_international() -> None:
    t = tenant(2000)
    upns = [u["userPrincipalName"] for u in t.users.values()]
    assert len(set(upns)) == len(upns)
    assert all(re.fullmatch(r"[a-z0-9]+\.[a-z0-9]+@contoso\.example", upn) for upn in upns)
    names = {u["displayName"] for u in t.users.values()}
    assert {"Zoë Ångström", "José Müller"} <= names
    assert sum(not n.isascii() for n in names) > 100


def test_rollout_group_nests_a_pilot_group_reaching_every_member_once() -> None:
    t = tenant(100, group_size=50)
    main = next(g for g in t.groups.values() if g.display_name == GROUP_NAME)
    pilot = next(g for g in t.groups.values() if g.display_name == SUBGROUP_NAME)
    assert pilot.id in main.member_ids
    users = [o["id"] for o in t.transitive_member_objects(main) if o["id"] in t.users]
    assert len(users) == len(set(users)) == 50
    assert set(pilot.member_ids) - set(main.member_ids), "some people are only in the pilot group"
