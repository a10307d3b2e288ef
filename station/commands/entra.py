"""`station import`, `station sync` and `station doctor`: the queue from Entra ID, and a tenant check-up."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from email.utils import parsedate_to_datetime

import requests

from station.commands.common import config_from_args
from station.config import Config
from station.entra import DirectoryUser, EntraClient, Finding
from station.entra.remedies import GRANT_DIRECTORY
from station.errors import GraphError, ImportRejectedError, StationError
from station.lifecycle.delegation_check import delegation_finding
from station.lifecycle.leavers import GROUP_SOURCE, act_on_leavers
from station.lifecycle.revoke import GRANT_DELETE, may_revoke, token_roles
from station.store import AddResult, NewPerson, PersonState, Store, open_store
from station.text import UPN_MAX, visible
from station.unresolved import doctor_finding

log = logging.getLogger(__name__)

DELTA_LINK_KEY = "entra.users_delta_link"
GROUPS_KEY = "entra.imported_groups"
MAX_CLOCK_SKEW_SECONDS = 300.0
REMOVED_NOTE = "removed from Entra ID"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("import", help="queue people from Entra ID (a group, or named users)",
                       description="Queue the members of an Entra ID group (nested groups included) or the "
                                   "named users. Importing again updates names and adds newcomers.")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--group", metavar="NAME|ID", help="group display name or object id")
    source.add_argument("--users", metavar="UPN", nargs="+", help="user principal names or object ids")
    p.add_argument("--priority", type=int, default=0, help="higher goes first (default 0)")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("sync", help="apply Entra ID changes to the queue",
                       description="Read user changes since the last sync (users/delta): renamed people are "
                                   "updated, deleted people still queued are skipped, and newcomers to "
                                   "imported groups are queued. Leavers — key holders deleted from the "
                                   "directory, or imported from a group and in no imported group now — are "
                                   "reported, or their keys' passkeys revoked when [lifecycle] on_leaver = "
                                   "\"revoke\".")
    p.set_defaults(func=cmd_sync)

    p = sub.add_parser("doctor", help="check the tenant: token, permissions, FIDO2 policy, clock",
                       description="Check everything Station needs from Entra ID, one OK/FAIL line each with "
                                   "its remedy, and that no enrolment in the store is unresolved (Entra ID could "
                                   "not tell whether its passkey was registered). Exit status 0 only when every "
                                   "check passes.")
    p.set_defaults(func=cmd_doctor)


def _people(users: Iterable[DirectoryUser], priority: int, source: str = "entra") -> Iterator[NewPerson]:
    """The users to queue. A display name cleaned of control or invisible characters is queued and the
    change is said; a user whose UPN or object id holds any (or is over-long) is left out, and said why."""
    for u in users:
        who = f"{visible(u.user_principal_name[:UPN_MAX]) or '(no UPN)'} ({visible(u.id[:64])})"
        if u.refused:
            print(f"  {who}: not queued — {u.refused}", file=sys.stderr)
            continue
        if u.cleaned:
            print(f"  {who}: {u.cleaned}", file=sys.stderr)
        if u.user_principal_name:
            yield NewPerson(upn=u.user_principal_name, display_name=u.display_name, object_id=u.id, source=source,
                            priority=priority, preferred_language=u.preferred_language or None)


def _summary(result: AddResult) -> str:
    return f"{result.added} added, {result.updated} updated, {result.unchanged} unchanged"


def _remember_group(store: Store, group_id: str) -> None:
    groups = set(json.loads(store.meta.get(GROUPS_KEY) or "[]"))
    groups.add(group_id)
    store.meta.set(GROUPS_KEY, json.dumps(sorted(groups)))


def cmd_import(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    with EntraClient.from_config(cfg) as client:
        if args.group:
            group = client.directory.resolve_group(args.group)
            store = open_store(cfg.store_url, cfg.station.id)
            try:
                result = import_group(store, client, group.id, args.priority)
            finally:
                store.close()
            print(f"imported group {visible(group.display_name or group.id)}: {_summary(result)}")
            return 0
        users = _named_users(client, args.users)
    store = open_store(cfg.store_url, cfg.station.id)
    try:
        result = store.queue.add_people(_people(users, args.priority))
    finally:
        store.close()
    print(f"imported {len(users)} named user(s): {_summary(result)}")
    return 0


def import_group(store: Store, client: EntraClient, group_id: str, priority: int) -> AddResult:
    """Queue a group's members, page by page into a staging table, then into the queue in one transaction:
    the queue is not locked while Graph is read, and a failure on any page leaves it as it was."""
    with store.staged_import() as batch:
        batch.stage(_people(client.directory.group_members(group_id), priority, GROUP_SOURCE))
        result = batch.apply()
    _remember_group(store, group_id)
    return result


def _named_users(client: EntraClient, keys: list[str]) -> list[DirectoryUser]:
    """The named users (by UPN or object id), or ImportRejectedError naming those Entra ID does not know."""
    users, missing = [], []
    for key in keys:
        try:
            users.append(client.directory.get_user(key))
        except GraphError as e:
            if e.status != 404:
                raise
            missing.append(key)
    if missing:
        for key in missing:
            print(f"  {key}: no such user in Entra ID", file=sys.stderr)
        raise ImportRejectedError(f"{len(missing)} of {len(keys)} user(s) not found",
                                  remedy="Check the names above and import again; nobody was imported.")
    return users


def cmd_sync(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    store = open_store(cfg.store_url, cfg.station.id)
    try:
        with EntraClient.from_config(cfg) as client:
            page = client.directory.delta(store.meta.get(DELTA_LINK_KEY))
            known = {p.object_id: p for p in store.queue.list() if p.object_id}
            updated = store.queue.add_people(_people([u for u in page.changed if u.id in known], 0))
            skipped = 0
            for object_id in page.removed:
                person = known.get(object_id)
                if person is not None and person.state == PersonState.QUEUED.value:
                    store.queue.skip(person.upn, REMOVED_NOTE)
                    skipped += 1
            added = AddResult()
            in_groups: set[str] | None = None
            for group_id in json.loads(store.meta.get(GROUPS_KEY) or "[]"):
                members = list(client.directory.group_members(group_id))
                in_groups = (in_groups or set()) | {m.id for m in members}
                result = store.queue.add_people(_people(members, 0, GROUP_SOURCE))
                added = AddResult(added.added + result.added, added.updated + result.updated,
                                  added.unchanged + result.unchanged)
            leavers = act_on_leavers(store, client.passkeys, cfg.lifecycle.on_leaver, set(page.removed), in_groups)
            store.meta.set(DELTA_LINK_KEY, page.delta_link)
    finally:
        store.close()
    for line in leavers:
        print(line)
    print(f"sync: {added.added} added from imported groups, {updated.updated + added.updated} updated, "
          f"{len(page.removed)} removed in Entra ID ({skipped} queued person(s) skipped), {len(leavers)} leaver(s)")
    return 0


def _check(name: str, action: Callable[[], str]) -> Finding:
    """Run one doctor check; a StationError becomes a FAIL line with its remedy."""
    try:
        detail = action()
    except StationError as e:
        return Finding(name, False, e.message, e.remedy)
    return Finding(name, True, detail)


def _clock_skew(client: EntraClient) -> Finding:
    started = time.time()
    try:
        response = client.session.get(client.http.graph_host + "/", timeout=client.http.timeout)
    except requests.RequestException as e:
        return Finding("clock", False, f"cannot reach {client.http.graph_host}: {type(e).__name__}",
                       "Check the network, tenant.graph_host and tenant.ca_file.")
    date = response.headers.get("Date")
    if not date:
        return Finding("clock", False, "Graph sent no Date header to compare with", "")
    skew = parsedate_to_datetime(date).timestamp() - (started + time.time()) / 2
    ok = abs(skew) <= MAX_CLOCK_SKEW_SECONDS
    return Finding("clock", ok, f"{round(skew):+d} s from Graph's clock",
                   "Set the system clock right (enable NTP: timedatectl set-ntp true).")


def _revocation(client: EntraClient) -> Finding:
    """Whether the app may delete passkeys (station keys revoke), read from its token's roles: trying a DELETE
    would delete something."""
    roles = token_roles(client.tokens.token())
    if roles is None:
        return Finding("revocation", True, "the token does not list its permissions; not checked")
    if may_revoke(roles):
        return Finding("revocation", True, "the app may delete passkeys (station keys revoke)")
    return Finding("revocation", False, "the app may not delete passkeys: station keys revoke will be refused",
                   GRANT_DELETE)


def doctor_findings(client: EntraClient) -> list[Finding]:
    def get_token() -> str:
        client.tokens.token()
        return f"issued by {client.tokens.authority}"

    findings = [_check("token", get_token)]
    if not findings[0].ok:
        return findings
    first_user: list[DirectoryUser] = []

    def read_users() -> str:
        page = client.http.get_json("users", purpose="directory", what="read users",
                                    params={"$top": "1", "$select": "id,userPrincipalName,displayName"})
        first_user.extend(DirectoryUser.of(u) for u in page.get("value", []))
        return "User.Read.All works"

    def read_groups() -> str:
        client.http.get_json("groups", purpose="group", what="read groups", params={"$top": "1", "$select": "id"})
        return "GroupMember.Read.All works"

    def read_passkeys() -> str:
        if not first_user:
            raise StationError("no user to try the passkey permission on", remedy=GRANT_DIRECTORY)
        client.passkeys.list_methods(first_user[0].id)
        return "passkey methods can be read"

    findings += [
        _check("users", read_users),
        _check("groups", read_groups),
        _check("passkeys", read_passkeys),
        _revocation(client),
    ]
    try:
        findings += client.preflight()
    except StationError as e:
        findings.append(Finding("FIDO2 policy", False, e.message, e.remedy))
    findings.append(_clock_skew(client))
    return findings


def _enrolments(cfg: Config) -> Finding:
    """Unresolved enrolments in the store: the person stays claimed until Entra ID tells their outcome."""
    try:
        store = open_store(cfg.store_url, cfg.station.id)
    except StationError as e:
        return Finding("enrolments", False, f"cannot read the store: {e.message}", e.remedy)
    try:
        return doctor_finding(store)
    finally:
        store.close()


def cmd_doctor(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    try:
        client = EntraClient.from_config(cfg)
    except StationError as e:
        print(Finding("configuration", False, e.message, e.remedy).line())
        return 1
    with client:
        findings = doctor_findings(client)
        if findings[0].ok:
            findings.append(delegation_finding(client, cfg.delegation))
    findings.append(_enrolments(cfg))
    for finding in findings:
        print(finding.line())
    failed = [f for f in findings if not f.ok]
    print(f"{len(findings) - len(failed)} of {len(findings)} checks passed")
    return 1 if failed else 0

