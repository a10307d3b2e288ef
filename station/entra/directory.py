"""Directory reads: users by id or UPN, groups by id or name, transitive group members, users/delta."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from station.entra.http import GraphHttp
from station.entra.remedies import GROUP_NOT_FOUND
from station.errors import GraphError, Reason
from station.i18n import _, is_language_tag
from station.text import DISPLAY_NAME_MAX, UPN_MAX, cleaned, problems, visible

log = logging.getLogger(__name__)

USER_FIELDS = "id,userPrincipalName,displayName,preferredLanguage"
EVENTUAL = {"ConsistencyLevel": "eventual"}
OBJECT_ID_MAX = 64  # the queue's object id column; Entra's are GUIDs (36)
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


@dataclass(frozen=True)
class DirectoryUser:
    """A user as read from the directory. The display name is already cleaned of control, bidi and invisible
    characters and cut to Entra's 256 (``cleaned`` says what was removed); a UPN or object id holding any is
    not changed but ``refused`` says why the user cannot be queued (station/text.py)."""

    id: str
    user_principal_name: str
    display_name: str
    cleaned: str = ""
    refused: str = ""
    preferred_language: str = ""  # "" when the directory has none, or not a language tag

    @classmethod
    def of(cls, item: Any) -> DirectoryUser:
        """A user from Graph's JSON; GraphError when the item is not a user object with an id."""
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
            raise GraphError(f"Graph answered a user without an id: {visible(str(item)[:200])}",
                             reason=Reason.GRAPH_BAD_REQUEST)
        upn = str(item.get("userPrincipalName") or "")
        name, removed = cleaned(str(item.get("displayName") or ""))
        notes = [f"display name: {removed}"] if removed else []
        if len(name) > DISPLAY_NAME_MAX:
            notes.append(f"display name: cut from {len(name)} to {DISPLAY_NAME_MAX} characters")
            name = name[:DISPLAY_NAME_MAX]
        refused = problems(upn, "upn", UPN_MAX) + problems(item["id"], "object id", OBJECT_ID_MAX)
        language = str(item.get("preferredLanguage") or "")
        language = language if is_language_tag(language) else ""
        return cls(item["id"], upn, name, "; ".join(notes), "; ".join(refused), language)


@dataclass(frozen=True)
class Group:
    id: str
    display_name: str


@dataclass(frozen=True)
class DeltaPage:
    """One round of users/delta: changed users (added or updated), removed object ids, the next deltaLink."""

    changed: list[DirectoryUser] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    delta_link: str = ""


def user_path(id_or_upn: str) -> str:
    """``users/{id|upn}``, quoting what a UPN may hold (``#EXT#``, non-ASCII) and Graph's ``$`` prefix rule."""
    key = id_or_upn.strip()
    if key.startswith("$"):
        return f"users('{quote(key, safe='@')}')"
    return f"users/{quote(key, safe='@')}"


def _odata_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class Directory:
    def __init__(self, http: GraphHttp) -> None:
        self.http = http

    def get_user(self, id_or_upn: str) -> DirectoryUser:
        """One user by object id or UPN; GraphError USER_NOT_FOUND when there is none."""
        item = self.http.get_json(user_path(id_or_upn), purpose="user", what=f"read user {id_or_upn}",
                                  params={"$select": USER_FIELDS})
        return DirectoryUser.of(item)

    def resolve_group(self, name_or_id: str) -> Group:
        """A group by object id, else by exact display name (which must be unique)."""
        key = name_or_id.strip()
        if _GUID.match(key):
            item = self.http.get_json(f"groups/{key}", purpose="group", what=f"read group {key}",
                                      params={"$select": "id,displayName"})
            return Group(str(item["id"]), str(item.get("displayName") or ""))
        found: list[Group] = []
        for page in self.http.pages(
            "groups", purpose="group", what=f"find group {key!r}", headers=EVENTUAL,
            params={"$filter": f"displayName eq {_odata_string(key)}", "$select": "id,displayName",
                    "$count": "true"},
        ):
            found.extend(Group(str(g["id"]), str(g.get("displayName") or "")) for g in page.get("value", []))
        if not found:
            raise GraphError(f"no group named {key!r} in Entra ID", reason=Reason.NOT_FOUND, status=404,
                             remedy=_(GROUP_NOT_FOUND))
        if len(found) > 1:
            ids = ", ".join(g.id for g in found)
            raise GraphError(f"{len(found)} groups are named {key!r}: {ids}", reason=Reason.NOT_FOUND,
                             remedy="Name the group by its object id instead.")
        return found[0]

    def group_members(self, group_id: str) -> Iterator[DirectoryUser]:
        """Every user in the group, nested groups included, page after page."""
        pages = self.http.pages(
            f"groups/{group_id}/transitiveMembers/microsoft.graph.user",
            purpose="group", what=f"list members of group {group_id}", headers=EVENTUAL,
            params={"$select": USER_FIELDS, "$count": "true", "$top": "999"},
        )
        for page in pages:
            for item in page.get("value", []):
                yield DirectoryUser.of(item)

    def delta(self, delta_link: str | None = None) -> DeltaPage:
        """Changes since ``delta_link`` (all users when None), up to a new deltaLink to store."""
        changed: list[DirectoryUser] = []
        removed: list[str] = []
        partial: list[str] = []
        page: dict[str, Any] = {}
        pages = self.http.pages(delta_link or "users/delta", purpose="directory", what="read user changes",
                                params=None if delta_link else {"$select": USER_FIELDS})
        for page in pages:
            for item in page.get("value", []):
                if "@removed" in item:
                    removed.append(str(item["id"]))
                elif item.get("userPrincipalName"):
                    changed.append(DirectoryUser.of(item))
                else:
                    partial.append(str(item["id"]))
        # An update may carry only the properties that changed: read the rest.
        changed.extend(self.get_user(user_id) for user_id in partial)
        link = str(page.get("@odata.deltaLink") or "")
        if not link:
            raise GraphError("users/delta ended without a deltaLink", reason=Reason.GRAPH_BAD_REQUEST)
        log.info("user changes: %d changed, %d removed", len(changed), len(removed))
        return DeltaPage(changed, removed, link)
