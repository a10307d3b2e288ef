"""`station doctor`'s delegation check: may the app make Temporary Access Passes, is the TAP method enabled,
and does ``[delegation] tap_lifetime_minutes`` fit the policy's limits."""

from __future__ import annotations

from station.entra import EntraClient
from station.entra.policy import Finding
from station.entra.remedies import GRANT_TAP
from station.entra.tap import TemporaryAccessPasses
from station.errors import StationError
from station.lifecycle.delegation_settings import DelegationSection
from station.lifecycle.revoke import token_roles

TAP_PERMISSION = "UserAuthenticationMethod.ReadWrite.All"
CHECK = "delegation"


def delegation_finding(client: EntraClient, settings: DelegationSection) -> Finding:
    roles = token_roles(client.tokens.token())
    if roles is not None and TAP_PERMISSION not in roles:
        return Finding(CHECK, False, "the app may not create Temporary Access Passes: station handout will be "
                                     "refused", GRANT_TAP)
    try:
        policy = TemporaryAccessPasses(client.http).policy()
    except StationError as e:
        return Finding(CHECK, False, f"the TAP method policy cannot be read: {e.message}", e.remedy)
    if not policy.enabled:
        return Finding(CHECK, False, "the Temporary Access Pass method is disabled: station handout will be refused",
                       "Enable Temporary Access Pass in Entra ID (Protection, Authentication methods, Policies) "
                       "for the people who receive keys by hand-out.")
    lifetime = settings.tap_lifetime_minutes
    if not policy.min_lifetime <= lifetime <= policy.max_lifetime:
        return Finding(CHECK, False, f"[delegation] tap_lifetime_minutes = {lifetime} is outside the TAP policy's "
                                     f"{policy.min_lifetime}–{policy.max_lifetime} minutes",
                       "Set tap_lifetime_minutes within those limits, or widen them in the TAP policy.")
    once = ", one-time use" if settings.tap_usable_once or policy.usable_once else ""
    return Finding(CHECK, True, f"Temporary Access Passes can be made ({lifetime} min{once}; policy allows "
                                f"{policy.min_lifetime}–{policy.max_lifetime} min)")
