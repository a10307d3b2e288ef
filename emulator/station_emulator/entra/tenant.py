"""The emulated directory: users, groups, FIDO2 methods, issued challenges, the FIDO2 policy, the app.

Every read and write happens under ``Tenant.lock``. User changes are numbered so that ``users/delta``
can answer "what changed since this deltaLink".
"""

from __future__ import annotations

import bisect
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from station_emulator.entra.protocol import iso_time
from station_emulator.entra.tap import TapMethod, default_tap_policy

USER_DEFAULT_PROPERTIES = (
    "businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone",
    "officeLocation", "preferredLanguage", "surname", "userPrincipalName",
)
# Member lists kept for paged reads in progress (see Tenant.remember_listing).
MAX_LISTINGS = 16
GROUP_DEFAULT_PROPERTIES = ("displayName", "description", "mailNickname", "securityEnabled", "groupTypes")

# Application permissions the emulated app registration holds unless a test takes some away.
DEFAULT_APP_ROLES = frozenset({
    "User.Read.All", "User.ReadWrite.All", "GroupMember.Read.All", "Group.ReadWrite.All", "Policy.Read.All",
    "Policy.ReadWrite.AuthenticationMethod", "UserAuthMethod-Passkey.ReadWrite.All",
    "UserAuthenticationMethod.ReadWrite.All",
})


def default_fido2_policy(*, attestation_enforced: bool) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.fido2AuthenticationMethodConfiguration",
        "id": "Fido2",
        "state": "enabled",
        "isSelfServiceRegistrationAllowed": True,
        "isAttestationEnforced": attestation_enforced,
        "keyRestrictions": {"isEnforced": False, "enforcementType": "block", "aaGuids": []},
        "includeTargets": [{"targetType": "group", "id": "all_users", "isRegistrationRequired": False}],
        "excludeTargets": [],
    }


@dataclass
class Group:
    id: str
    display_name: str
    description: str
    member_ids: list[str] = field(default_factory=list)

    def to_graph(self) -> dict[str, Any]:
        return {
            "@odata.type": "#microsoft.graph.group", "id": self.id, "displayName": self.display_name,
            "description": self.description, "mailNickname": self.display_name.replace(" ", "").lower(),
            "securityEnabled": True, "groupTypes": [],
        }


@dataclass
class Fido2Method:
    id: str
    user_id: str
    credential_id: bytes
    display_name: str
    created: float
    aaguid: str
    model: str | None
    attestation_level: str
    attestation_certificates: list[str]

    def to_graph(self) -> dict[str, Any]:
        return {
            "@odata.type": "#microsoft.graph.fido2AuthenticationMethod", "id": self.id,
            "displayName": self.display_name, "createdDateTime": iso_time(self.created),
            "aaGuid": self.aaguid, "model": self.model, "attestationCertificates": self.attestation_certificates,
            "attestationLevel": self.attestation_level,
        }


@dataclass(frozen=True)
class Challenge:
    value: bytes
    user_id: str
    expires_at: float


@dataclass
class AppRegistration:
    """The client application: secret, registered certificates (by SHA-1 and SHA-256 thumbprint), roles."""

    client_id: str
    client_secret: str
    roles: set[str] = field(default_factory=lambda: set(DEFAULT_APP_ROLES))
    certificates: list[x509.Certificate] = field(default_factory=list)

    def add_certificate(self, pem: bytes) -> None:
        self.certificates.append(x509.load_pem_x509_certificate(pem))

    def certificate_for(self, *, sha1: bytes | None = None, sha256: bytes | None = None) -> x509.Certificate | None:
        for cert in self.certificates:
            if sha256 is not None and cert.fingerprint(hashes.SHA256()) == sha256:
                return cert
            if sha1 is not None and cert.fingerprint(hashes.SHA1()) == sha1:
                return cert
        return None


class Tenant:
    def __init__(self, *, tenant_id: str, domain: str, app: AppRegistration, attestation_enforced: bool):
        self.lock = threading.RLock()
        self.tenant_id = tenant_id
        self.domain = domain
        self.app = app
        self.users: dict[str, dict[str, Any]] = {}
        self.groups: dict[str, Group] = {}
        self.methods: dict[str, list[Fido2Method]] = {}
        self.challenges: dict[bytes, Challenge] = {}
        self.policy: dict[str, Any] = default_fido2_policy(attestation_enforced=attestation_enforced)
        self.models: dict[str, str] = {}
        self.taps: dict[str, TapMethod] = {}  # the live TAP of each user, by user id
        self.tap_policy: dict[str, Any] = default_tap_policy()
        self._by_upn: dict[str, str] = {}
        self._seq = 0
        self._changed: dict[str, int] = {}
        self._removed: dict[str, int] = {}
        self._sorted_ids: list[str] | None = None
        self._listings: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()

    # users

    def user(self, key: str) -> dict[str, Any] | None:
        """A user by object id or UPN (case-insensitive)."""
        with self.lock:
            found = self.users.get(key)
            if found is None:
                uid = self._by_upn.get(key.lower())
                found = self.users.get(uid) if uid else None
            return found

    def add_user(self, props: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            user = {"@odata.type": "#microsoft.graph.user", "businessPhones": [], "jobTitle": None,
                    "mobilePhone": None, "officeLocation": None, "preferredLanguage": None,
                    "accountEnabled": True, "userType": "Member", **props}
            self.users[user["id"]] = user
            self._by_upn[user["userPrincipalName"].lower()] = user["id"]
            self._removed.pop(user["id"], None)
            self._touch(user["id"])
            return user

    def update_user(self, user_id: str, props: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            user = self.users[user_id]
            if "userPrincipalName" in props:
                self._by_upn.pop(user["userPrincipalName"].lower(), None)
                self._by_upn[props["userPrincipalName"].lower()] = user_id
            user.update(props)
            self._touch(user_id)
            return user

    def remove_user(self, user_id: str) -> None:
        with self.lock:
            user = self.users.pop(user_id)
            self._by_upn.pop(user["userPrincipalName"].lower(), None)
            self._changed.pop(user_id, None)
            self._seq += 1
            self._removed[user_id] = self._seq
            self._sorted_ids = None
            self.methods.pop(user_id, None)
            for group in self.groups.values():
                if user_id in group.member_ids:
                    group.member_ids.remove(user_id)

    def _touch(self, user_id: str) -> None:
        self._seq += 1
        self._changed[user_id] = self._seq
        self._sorted_ids = None

    # delta

    @property
    def change_sequence(self) -> int:
        return self._seq

    def delta_page(self, since: int | None, upto: int, after: str, size: int) -> tuple[list[tuple[str, bool]], bool]:
        """Up to ``size`` (user id, removed) pairs changed in (since, upto] with id > ``after``; more remain?

        ``since=None`` is the initial round: every current user.
        """
        with self.lock:
            if self._sorted_ids is None:
                self._sorted_ids = sorted([*self.users, *self._removed])
            ids = self._sorted_ids
            out: list[tuple[str, bool]] = []
            i = bisect.bisect_right(ids, after)
            while i < len(ids) and len(out) < size:
                uid = ids[i]
                i += 1
                if since is None:
                    if uid in self.users:
                        out.append((uid, False))
                elif uid in self.users and since < self._changed.get(uid, 0) <= upto:
                    out.append((uid, False))
                elif uid in self._removed and since < self._removed[uid] <= upto:
                    out.append((uid, True))
            return out, i < len(ids)

    # groups

    def add_group(self, group: Group) -> Group:
        with self.lock:
            self.groups[group.id] = group
            return group

    def group(self, key: str) -> Group | None:
        with self.lock:
            return self.groups.get(key)

    def member_objects(self, group: Group) -> list[dict[str, Any]]:
        with self.lock:
            return [obj for mid in group.member_ids if (obj := self._object(mid)) is not None]

    def transitive_member_objects(self, group: Group) -> list[dict[str, Any]]:
        """Users and groups reachable from ``group``, each once, nested groups included, cycles tolerated."""
        with self.lock:
            seen: set[str] = {group.id}
            out: list[dict[str, Any]] = []
            stack = [group]
            while stack:
                current = stack.pop(0)
                for mid in current.member_ids:
                    if mid in seen:
                        continue
                    seen.add(mid)
                    obj = self._object(mid)
                    if obj is None:
                        continue
                    out.append(obj)
                    if mid in self.groups:
                        stack.append(self.groups[mid])
            return out

    def remember_listing(self, objects: list[dict[str, Any]]) -> str:
        """Keep a resolved member list for the following pages of one paged read (the last few only)."""
        key = uuid.uuid4().hex
        with self.lock:
            self._listings[key] = objects
            while len(self._listings) > MAX_LISTINGS:
                self._listings.popitem(last=False)
        return key

    def listing(self, key: str) -> list[dict[str, Any]] | None:
        with self.lock:
            return self._listings.get(key)

    def is_transitive_member(self, group_id: str, user_id: str) -> bool:
        group = self.group(group_id)
        return group is not None and any(o["id"] == user_id for o in self.transitive_member_objects(group))

    def _object(self, object_id: str) -> dict[str, Any] | None:
        if object_id in self.users:
            return self.users[object_id]
        if object_id in self.groups:
            return self.groups[object_id].to_graph()
        return None

    # FIDO2 methods and challenges

    def methods_of(self, user_id: str) -> list[Fido2Method]:
        with self.lock:
            return list(self.methods.get(user_id, []))

    def method_with_credential(self, credential_id: bytes) -> Fido2Method | None:
        with self.lock:
            for methods in self.methods.values():
                for method in methods:
                    if method.credential_id == credential_id:
                        return method
            return None

    def add_method(self, method: Fido2Method) -> None:
        with self.lock:
            self.methods.setdefault(method.user_id, []).append(method)

    def remove_method(self, user_id: str, method_id: str) -> bool:
        with self.lock:
            methods = self.methods.get(user_id, [])
            for method in methods:
                if method.id == method_id:
                    methods.remove(method)
                    return True
            return False
