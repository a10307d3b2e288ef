"""Deterministic tenant contents: the same seed always yields the same users, groups and ids.

Names are realistic and international (``Zoë Ångström``, ``José Müller``); UPNs are
``first.last@contoso.example`` folded to ASCII and de-duplicated with a number.
"""

from __future__ import annotations

import functools
import random
import unicodedata
import uuid

from station_emulator.entra.tenant import Group, Tenant

DOMAIN = "contoso.example"
GROUP_NAME = "Passkey rollout"
SUBGROUP_NAME = "Passkey rollout pilot"
OTHER_GROUP_NAME = "Finance"

# The first people are always these, so that every tenant has non-ASCII names to exercise.
FIXED_PEOPLE = (("Zoë", "Ångström"), ("José", "Müller"), ("Siobhán", "Ó Briain"), ("Łukasz", "Dvořák"))

FIRST_NAMES = (
    "Aiko", "Ana", "Ben", "Björn", "Carla", "Chloé", "David", "Dmitri", "Émilie", "Emma", "Felix", "François",
    "Grace", "Günther", "Håkon", "Hannah", "Inês", "Ivan", "Jürgen", "Julia", "Kateřina", "Kim", "Liam",
    "Maria", "Małgorzata", "Noah", "Olivia", "Oğuz", "Paul", "Per", "Renée", "Rosa", "Sam", "Søren",
    "Thérèse", "Tom", "Ulla", "Uma", "Victor", "Wei", "Xavier", "Yasmin", "Yuki", "Zara", "Ólafur", "Nuño",
)
LAST_NAMES = (
    "Andersson", "Bernard", "Brown", "Çelik", "De la Cruz", "Dubois", "Fischer", "García", "Horvat", "Hughes",
    "Ivanova", "Jensen", "Johnson", "Kim", "Kovács", "Kowalski", "Lee", "Martin", "Nakamura", "Nguyen",
    "Novak", "Núñez", "O'Brien", "Øvergaard", "Papadopoulos", "Patel", "Popescu", "Rossi", "Santos",
    "Schröder", "Silva", "Smith", "Sørensen", "Van der Berg", "Virtanen", "Weiß", "Wright", "Yılmaz",
)
JOB_TITLES = ("Engineer", "Analyst", "Nurse", "Accountant", "Technician", "Manager", "Designer", "Clerk")
DEPARTMENTS = ("Operations", "Finance", "Research", "Sales", "Support", "Facilities")

# Letters NFKD does not decompose into ASCII.
_FOLD = str.maketrans({"ß": "ss", "ø": "o", "Ø": "o", "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe",
                       "ł": "l", "Ł": "l", "đ": "d", "Đ": "d", "þ": "th", "Þ": "th", "\u0131": "i"})


@functools.lru_cache(maxsize=1024)
def ascii_fold(text: str) -> str:
    """``"Ångström"`` → ``"angstrom"``: lower-case ASCII letters and digits only (memoised: the names come
    from short lists, and a large tenant folds each one many times)."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD))
    return "".join(c for c in decomposed.lower() if c.isascii() and c.isalnum())


# A rollout across a company's countries: users' preferredLanguage in turn (one in six has none set).
PREFERRED_LANGUAGES = ("en-US", "de-DE", "fr-FR", "es-ES", "nl-NL", None)


def seeded_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def populate(tenant: Tenant, rng: random.Random, *, users: int, group_size: int | None) -> None:
    """Fill ``tenant`` with ``users`` people and the rollout group (with its nested pilot sub-group)."""
    taken: dict[str, int] = {}
    user_ids: list[str] = []
    for i in range(users):
        if i < len(FIXED_PEOPLE):
            first, last = FIXED_PEOPLE[i]
        else:
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        local = f"{ascii_fold(first)}.{ascii_fold(last)}"
        count = taken.get(local, 0) + 1
        taken[local] = count
        upn = f"{local}{count if count > 1 else ''}@{tenant.domain}"
        uid = seeded_uuid(rng)
        tenant.add_user({
            "id": uid, "displayName": f"{first} {last}", "givenName": first, "surname": last,
            "userPrincipalName": upn, "mail": upn, "jobTitle": rng.choice(JOB_TITLES),
            "department": rng.choice(DEPARTMENTS),
            "preferredLanguage": PREFERRED_LANGUAGES[i % len(PREFERRED_LANGUAGES)],
        })
        user_ids.append(uid)

    size = len(user_ids) if group_size is None else max(0, min(group_size, len(user_ids)))
    members = user_ids[:size]
    # About a fifth of the rollout sits only in the nested pilot group; two people are in both.
    split = size - size // 5
    pilot = Group(seeded_uuid(rng), SUBGROUP_NAME, "Pilot wave of the passkey rollout",
                  members[split:] + members[:min(2, split)])
    main = Group(seeded_uuid(rng), GROUP_NAME, "People who receive a security key",
                 [*members[:split], pilot.id])
    other = Group(seeded_uuid(rng), OTHER_GROUP_NAME, "Finance department",
                  rng.sample(user_ids, min(10, len(user_ids))))
    for group in (main, pilot, other):
        tenant.add_group(group)
