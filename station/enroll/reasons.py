"""Technician-facing words for every way an enrolment can fail, and the one translation of CTAP errors.

``failure(reason, message)`` builds the StationError a session ends with: the reason code, whether the
same person and key may succeed if tried again, and what the technician should do now.
"""

from __future__ import annotations

from fido2.ctap import CtapError

from station.errors import KeyOperationError, Reason, StationError
from station.i18n import N_, _

UNTRUSTED_ANSWER = N_("This key's answer breaks the FIDO2 rules, so Station did not register it. Set the key "
                       "aside and give it to the administrator; the person is back in the queue.")

REMEDIES: dict[Reason, str] = {
    Reason.PIN_ALREADY_SET: N_("This key already has a PIN: it was used before. Set it aside for a reset, "
                               "or enable used_key = \"reset\" to reset keys at the station."),
    Reason.AAGUID_NOT_ALLOWED: N_("This key model is not on the allowed list. Use an approved key model."),
    Reason.U2F_ONLY: N_("This is a U2F-only key; it cannot hold a passkey. Use a FIDO2 key."),
    Reason.FEATURE_MISSING: N_("This key model lacks a feature this enrolment needs (the message names it). Take a "
                               "key model that has it."),
    Reason.PIN_POLICY_REFUSED: N_("This key model has a PIN policy of its own and refused the generated PIN (it may "
                                  "take digits only, or need a longer PIN); the key was not changed. Set "
                                  "enrolment.pin_alphabet = \"0123456789\" and a longer pin_length, or take "
                                  "another model."),
    Reason.KEY_FULL: N_("This key has no room for another passkey. Reset it or use another key."),
    Reason.TOUCH_TIMEOUT: N_("Nobody touched the key in time. Remove it, reset it, and insert it again."),
    Reason.TOUCH_DENIED: N_("The key refused the request. Remove it, reset it, and insert it again."),
    Reason.KEY_REMOVED: N_("The key was removed before it was done. Reset it before using it again; "
                           "the person goes back to the queue."),
    Reason.OPERATOR_CANCELLED: N_("The enrolment was cancelled (by the operator, or because the station stopped) "
                                  "before it was done; the person is back in the queue. Remove the key, reset it if "
                                  "the card says it needs a reset, and insert it again."),
    Reason.KEY_ERROR: N_("The key did not answer as expected. Remove it and insert it again; "
                         "if it keeps failing, set it aside."),
    Reason.KEY_NEEDS_RESET: N_("The key holds a PIN (and maybe a passkey) from an unfinished enrolment. "
                               "Reset it before using it again; its escrowed PIN is kept."),
    Reason.RESET_WINDOW: N_("A reset only works right after the key is plugged in. Remove it, insert it "
                            "again and touch it within 10 seconds."),
    Reason.ALREADY_REGISTERED: N_("This key already holds this person's own passkey (Entra ID listed it as "
                                  "theirs). Hand it to them, or use another key."),
    Reason.KEY_RP_MISMATCH: UNTRUSTED_ANSWER,
    Reason.KEY_NO_PRESENCE: UNTRUSTED_ANSWER,
    Reason.KEY_NO_VERIFICATION: UNTRUSTED_ANSWER,
    Reason.AAGUID_MISMATCH: N_("This key claims to be another model than it attests to be. Set it aside and give "
                               "it to the administrator; nothing was registered and the person is back in the queue."),
    Reason.CREDENTIAL_ID_TOO_LONG: UNTRUSTED_ANSWER,
    Reason.ATTESTATION_INVALID: N_("This key's attestation does not verify (a counterfeit or faulty key). Set it "
                                   "aside and give it to the administrator; nothing was registered and the person "
                                   "is back in the queue."),
    Reason.MODEL_COMPROMISED: N_("FIDO's metadata reports this key model as compromised or revoked: its passkeys "
                                 "cannot be trusted. Set the key aside and take another model."),
    Reason.ATTESTATION_UNTRUSTED: N_("FIDO's metadata does not vouch for this key, so Entra ID would refuse it "
                                     "under attestation enforcement. Take an approved model; a key refused after "
                                     "its touch holds a PIN: reset it before reuse. station mds show AAGUID says "
                                     "what the metadata knows."),
    Reason.GRAPH_THROTTLED: N_("Microsoft Graph asked Station to slow down. The person is back in the queue; "
                               "try again in a minute."),
    Reason.GRAPH_UNAVAILABLE: N_("Microsoft Graph is not answering. Check the network; the person is back in "
                                 "the queue."),
    Reason.GRAPH_DENIED: N_("Entra ID refused the request: check the app's permissions "
                            "(UserAuthMethod-Passkey.ReadWrite.All) and that the FIDO2 policy allows self-service "
                            "setup for this person."),
    Reason.GRAPH_POLICY: N_("The tenant's FIDO2 policy rejected this key (key restrictions or attestation). "
                            "Use an allowed key model or change the policy."),
    Reason.GRAPH_BAD_REQUEST: N_("Entra ID rejected the registration. Reset the key and try again; see the log "
                                 "for the request id."),
    Reason.GRAPH_UNCERTAIN: N_("Station could not learn whether Entra ID registered the key. It will check "
                               "again before doing anything else; leave the key aside until then."),
    Reason.AUTH_FAILED: N_("Station cannot sign in to Entra ID. Check the tenant, client id and secret."),
    Reason.USER_NOT_FOUND: N_("This person is no longer in Entra ID. They were marked failed; "
                              "re-import the queue if that is wrong."),
    Reason.RP_ID_MISMATCH: N_("Entra ID asked for a passkey for an unexpected site, so the key was not touched. "
                              "Check tenant.graph_host and tenant.rp_id (login.microsoft.com for Entra ID)."),
    Reason.CHALLENGE_EXPIRED: N_("The registration took too long and its challenge expired. Reset the key and "
                                 "try again."),
    Reason.QUEUE_EMPTY: N_("Nobody is waiting in the queue. Import people, then insert the key again."),
    Reason.STORE_NOT_WRITABLE: N_("The station cannot write its store (disk full or read-only), so it did not "
                                  "touch the key. Remove it; the station takes keys again by itself once the "
                                  "administrator has freed space."),
    Reason.INTERNAL: N_("Something unexpected went wrong; see the station log. Reset the key before reuse."),
}

RETRYABLE = {
    Reason.TOUCH_TIMEOUT, Reason.TOUCH_DENIED, Reason.KEY_REMOVED, Reason.OPERATOR_CANCELLED, Reason.KEY_ERROR,
    Reason.GRAPH_THROTTLED, Reason.GRAPH_UNAVAILABLE, Reason.GRAPH_UNCERTAIN, Reason.QUEUE_EMPTY,
    Reason.CHALLENGE_EXPIRED, Reason.RESET_WINDOW, Reason.STORE_NOT_WRITABLE,
}


def remedy_for(reason: Reason | str) -> str:
    """What the technician should do about ``reason``, in the station's language."""
    try:
        return _(REMEDIES[Reason(reason)])
    except (KeyError, ValueError):
        return _(REMEDIES[Reason.INTERNAL])


def nobody_waiting(queued: int) -> StationError:
    """No claim for this key: the queue is empty, or the ``queued`` people left each wait for a key of their own."""
    if not queued:
        return failure(Reason.QUEUE_EMPTY, "nobody is waiting in the queue")
    people = "1 person waits" if queued == 1 else f"{queued} people wait"
    return StationError(f"nobody is waiting for this key: {people} for a key of their own (pre-assigned)",
                        reason=Reason.QUEUE_EMPTY, retryable=True,
                        remedy=_("Insert the key pre-assigned to one of them ('station queue list' shows who "
                                 "waits), or import people for this key."))


def failure(reason: Reason, message: str, *, retryable: bool | None = None) -> StationError:
    """A StationError carrying ``reason``, its remedy and whether trying again may help."""
    return StationError(message, reason=reason, remedy=remedy_for(reason),
                        retryable=reason in RETRYABLE if retryable is None else retryable)


_CTAP_REASONS: dict[CtapError.ERR, tuple[Reason, str]] = {
    CtapError.ERR.USER_ACTION_TIMEOUT: (Reason.TOUCH_TIMEOUT, "the key was not touched in time"),
    CtapError.ERR.ACTION_TIMEOUT: (Reason.TOUCH_TIMEOUT, "the key was not touched in time"),
    CtapError.ERR.OPERATION_DENIED: (Reason.TOUCH_DENIED, "the key refused the request"),
    CtapError.ERR.CREDENTIAL_EXCLUDED: (Reason.ALREADY_REGISTERED, "the key already holds a passkey registered "
                                                                   "to this person"),
    CtapError.ERR.KEY_STORE_FULL: (Reason.KEY_FULL, "the key has no room for another passkey"),
    CtapError.ERR.PIN_AUTH_BLOCKED: (Reason.KEY_NEEDS_RESET, "the key's PIN is blocked until it is re-inserted"),
    CtapError.ERR.PIN_BLOCKED: (Reason.KEY_NEEDS_RESET, "the key's PIN is blocked"),
    CtapError.ERR.NOT_ALLOWED: (Reason.RESET_WINDOW, "the key did not allow the operation"),
    CtapError.ERR.PIN_POLICY_VIOLATION: (Reason.PIN_POLICY_REFUSED, "the key refused the PIN under its own PIN "
                                                                    "policy"),
}


def from_ctap(error: CtapError, doing: str) -> StationError:
    """Translate a CTAP error raised while ``doing`` something into a StationError, once, here."""
    reason, text = _CTAP_REASONS.get(error.code, (Reason.KEY_ERROR, f"the key answered {_code_name(error)}"))
    if reason is Reason.RESET_WINDOW and doing != "reset":
        reason, text = Reason.KEY_ERROR, f"the key answered {_code_name(error)}"
    err = failure(reason, f"{doing}: {text}")
    if reason is Reason.KEY_ERROR:
        return KeyOperationError(err.message, reason=reason, remedy=err.remedy, retryable=True)
    return err


def _code_name(error: CtapError) -> str:
    return str(getattr(error.code, "name", f"0x{int(error.code):02X}"))
