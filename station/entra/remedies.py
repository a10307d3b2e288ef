"""What a Graph failure means and what a person should do about it, in plain words.

``diagnose`` reads the HTTP status, the Graph error code and message and what the call was for (its
``purpose``) and returns the reason code, whether retrying can help, and the remedy.
Real tenants do not document stable codes for policy refusals, so messages are matched on keywords.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from station.errors import Reason
from station.i18n import N_, _

Purpose = Literal["creation_options", "register", "passkeys", "directory", "user", "group", "policy", "tap"]

GRANT_PASSKEY = N_(
    "Grant the app UserAuthMethod-Passkey.ReadWrite.All (application permission) and admin-consent it; "
    "with graph_version beta, UserAuthenticationMethod.ReadWrite.All."
)
GRANT_DIRECTORY = N_(
    "Grant the app User.Read.All and GroupMember.Read.All (application permissions) and admin-consent them."
)
GRANT_TAP = N_(
    "Grant the app UserAuthenticationMethod.ReadWrite.All (application permission; it creates and deletes "
    "Temporary Access Passes) and admin-consent it."
)
GRANT_POLICY = N_("Grant the app Policy.Read.All (application permission) and admin-consent it.")
ENABLE_SELF_SERVICE = N_("Enable 'Allow self-service setup' in the FIDO2 authentication method policy.")
ENABLE_FIDO2 = N_("Enable the Passkey (FIDO2) authentication method in Entra ID and target it at these users.")
ADD_TO_TARGETS = N_("Add the user (or a group they are in) to the targets of the Passkey (FIDO2) policy.")
AAGUID_REFUSED = N_(
    "This key model is excluded by the FIDO2 key restrictions: use an allowed model, or add its AAGUID "
    "to the policy's key restrictions."
)
ATTESTATION_REFUSED = N_(
    "Entra ID enforces attestation and did not trust this key's: use a key model listed in the FIDO "
    "metadata service, or turn off 'Enforce attestation' in the FIDO2 policy."
)
ALREADY_REGISTERED = N_(
    "Entra ID already has this key's passkey, perhaps for someone else: do not hand the key out. Set it aside "
    "for the administrator, who finds its owner in Entra ID and resets the key; use another key for this person."
)
CHALLENGE_EXPIRED = N_(
    "The challenge expired before registration; Station fetches fresh creation options and tries again."
)
USER_NOT_FOUND = N_(
    "Check the UPN or object id: the user may have been deleted or renamed in Entra ID. Run 'station sync'."
)
GROUP_NOT_FOUND = N_("Check the group's name or object id in Entra ID.")
CREATION_OPTIONS_405 = N_(
    "Graph refused creation options for this account: the app cannot provision its own account, and the "
    "beta call must use the parenthesised form. Check the user."
)
GUEST_REFUSED = N_("Passkeys cannot be provisioned for guest accounts; remove the guest from the queue.")
THROTTLED = N_("Graph is throttling this app; Station waits and retries. If it persists, import at a quieter time.")
UNAVAILABLE = N_("Graph is unavailable; Station retries. Check https://status.cloud.microsoft if it persists.")
SIGN_IN_AGAIN = N_("Check the tenant id, client id and the client secret or certificate in the configuration.")
BAD_REQUEST = N_("Graph rejected the request: see the error code and request-id in the station log.")


@dataclass(frozen=True)
class Diagnosis:
    reason: Reason
    retryable: bool
    remedy: str


def _has(pattern: str, text: str) -> bool:
    return re.search(pattern, text, re.IGNORECASE) is not None


def _policy_refusal(text: str, purpose: Purpose) -> Diagnosis | None:
    if _has(r"aa_?guid|key ?restriction", text):
        return Diagnosis(Reason.AAGUID_NOT_ALLOWED, False, AAGUID_REFUSED)
    if _has(r"attest", text):
        return Diagnosis(Reason.GRAPH_POLICY, False, ATTESTATION_REFUSED)
    if _has(r"self[- ]?service", text):
        return Diagnosis(Reason.GRAPH_POLICY, False, ENABLE_SELF_SERVICE)
    if _has(r"challenge", text) and _has(r"expire|invalid|unknown|not found|mismatch", text):
        return Diagnosis(Reason.CHALLENGE_EXPIRED, True, CHALLENGE_EXPIRED)
    if _has(r"already|duplicate|exists", text):
        return Diagnosis(Reason.ALREADY_REGISTERED, False, ALREADY_REGISTERED)
    if _has(r"guest", text):
        return Diagnosis(Reason.GRAPH_POLICY, False, GUEST_REFUSED)
    if _has(r"target|not in scope|not included", text):
        return Diagnosis(Reason.GRAPH_POLICY, False, ADD_TO_TARGETS)
    if _has(r"fido2|passkey", text) and _has(r"disabled|not enabled|not allowed|turned off", text):
        return Diagnosis(Reason.GRAPH_POLICY, False, ENABLE_FIDO2)
    if purpose == "creation_options" and _has(r"fido2|passkey", text):
        return Diagnosis(Reason.GRAPH_POLICY, False, ENABLE_SELF_SERVICE)
    return None


def _denied(purpose: Purpose) -> str:
    if purpose in ("creation_options", "register", "passkeys"):
        return GRANT_PASSKEY
    if purpose == "policy":
        return GRANT_POLICY
    if purpose == "tap":
        return GRANT_TAP
    return GRANT_DIRECTORY


def diagnose(status: int, code: str, message: str, purpose: Purpose) -> Diagnosis:
    """The reason, whether retrying can help, and the remedy in the station's language."""
    found = _diagnose(status, code, message, purpose)
    return Diagnosis(found.reason, found.retryable, _(found.remedy))


def _diagnose(status: int, code: str, message: str, purpose: Purpose) -> Diagnosis:
    text = f"{code} {message}"
    if status == 401:
        return Diagnosis(Reason.AUTH_FAILED, False, SIGN_IN_AGAIN)
    if status == 429:
        return Diagnosis(Reason.GRAPH_THROTTLED, True, THROTTLED)
    if status >= 500:
        return Diagnosis(Reason.GRAPH_UNAVAILABLE, True, UNAVAILABLE)
    if status == 403:
        # Keyword matches only: a bare 403 on creation options is a missing permission, not the policy.
        refusal = _policy_refusal(text, "register") if purpose != "policy" else None
        return refusal or Diagnosis(Reason.GRAPH_DENIED, False, _denied(purpose))
    if status == 404:
        if purpose == "group":
            return Diagnosis(Reason.NOT_FOUND, False, GROUP_NOT_FOUND)
        if purpose == "policy":
            return Diagnosis(Reason.GRAPH_BAD_REQUEST, False, BAD_REQUEST)
        return Diagnosis(Reason.USER_NOT_FOUND, False, USER_NOT_FOUND)
    if status == 405 and purpose == "creation_options":
        return Diagnosis(Reason.GRAPH_BAD_REQUEST, False, CREATION_OPTIONS_405)
    if status in (400, 409, 422):
        refusal = _policy_refusal(text, purpose)
        if refusal is not None:
            return refusal
        if status == 409:
            return Diagnosis(Reason.ALREADY_REGISTERED, False, ALREADY_REGISTERED)
    return Diagnosis(Reason.GRAPH_BAD_REQUEST, False, BAD_REQUEST)
