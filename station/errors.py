"""The StationError tree: every failure carries a reason code, a retryable flag and a remedy.

Adapters (key, Graph, store, configuration) translate their own errors into these once, at the
edge; the CLI and the dashboard turn them into words for a person.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Machine-readable reason codes. Stable: they appear in the journal, events and JSON output."""

    CONFIG_INVALID = "config_invalid"
    SECRET_INSECURE = "secret_insecure"
    SECRET_MISSING = "secret_missing"
    STORE_UNAVAILABLE = "store_unavailable"
    STORE_NOT_WRITABLE = "store_not_writable"
    IMPORT_INVALID = "import_invalid"
    NOT_FOUND = "not_found"
    QUEUE_EMPTY = "queue_empty"
    INVALID_STATE = "invalid_state"
    # key side
    PIN_ALREADY_SET = "pin_already_set"
    KEY_BELONGS_TO_SOMEONE = "key_belongs_to_someone"
    AAGUID_NOT_ALLOWED = "aaguid_not_allowed"
    U2F_ONLY = "u2f_only"
    FEATURE_MISSING = "feature_missing"
    PIN_POLICY_REFUSED = "pin_policy_refused"
    KEY_FULL = "key_full"
    TOUCH_TIMEOUT = "touch_timeout"
    TOUCH_DENIED = "touch_denied"
    KEY_REMOVED = "key_removed"
    OPERATOR_CANCELLED = "operator_cancelled"
    KEY_ERROR = "key_error"
    KEY_NEEDS_RESET = "key_needs_reset"
    RESET_WINDOW = "reset_window"
    ALREADY_REGISTERED = "already_registered"
    MODEL_COMPROMISED = "model_compromised"
    ATTESTATION_UNTRUSTED = "attestation_untrusted"
    # the key's makeCredential answer, checked before registering (station/enroll/attestation_checks.py)
    KEY_RP_MISMATCH = "key_rp_mismatch"
    KEY_NO_PRESENCE = "key_no_presence"
    KEY_NO_VERIFICATION = "key_no_verification"
    AAGUID_MISMATCH = "aaguid_mismatch"
    CREDENTIAL_ID_TOO_LONG = "credential_id_too_long"
    ATTESTATION_INVALID = "attestation_invalid"
    # Entra / Graph side
    GRAPH_THROTTLED = "graph_throttled"
    GRAPH_UNAVAILABLE = "graph_unavailable"
    GRAPH_DENIED = "graph_denied"
    GRAPH_POLICY = "graph_policy"
    GRAPH_BAD_REQUEST = "graph_bad_request"
    GRAPH_UNCERTAIN = "graph_uncertain"
    AUTH_FAILED = "auth_failed"
    USER_NOT_FOUND = "user_not_found"
    CHALLENGE_EXPIRED = "challenge_expired"
    RP_ID_MISMATCH = "rp_id_mismatch"
    # daemon control
    CONTROL_DENIED = "control_denied"
    CONTROL_INVALID = "control_invalid"
    DAEMON_UNAVAILABLE = "daemon_unavailable"
    # station feedback (LEDs, sound)
    FEEDBACK_UNAVAILABLE = "feedback_unavailable"
    INTERNAL = "internal"


class StationError(Exception):
    """Base of every error Station explains to a person.

    ``reason`` is a stable code, ``retryable`` says whether the same action may succeed later,
    ``remedy`` tells the operator or technician what to do in plain words.
    """

    reason: Reason = Reason.INTERNAL
    retryable: bool = False
    remedy: str = "See the station log for details."
    exit_code: int = 1

    def __init__(
        self,
        message: str,
        *,
        reason: Reason | None = None,
        retryable: bool | None = None,
        remedy: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason
        if retryable is not None:
            self.retryable = retryable
        if remedy is not None:
            self.remedy = remedy

    def to_dict(self) -> dict[str, object]:
        return {
            "reason": str(self.reason),
            "message": self.message,
            "retryable": self.retryable,
            "remedy": self.remedy,
        }


class ConfigError(StationError):
    """The configuration is missing, malformed or unsafe. One line per problem in ``problems``."""

    reason = Reason.CONFIG_INVALID
    remedy = "Fix the configuration file and run 'station config check'."
    exit_code = 2

    def __init__(self, message: str, problems: list[str] | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.problems = problems or []


class StoreError(StationError):
    reason = Reason.STORE_UNAVAILABLE
    retryable = True
    remedy = "Check that the store URL is right and the database is reachable."


class StoreNotWritableError(StoreError):
    """The store refuses writes: its disk is full, or it is read-only. Clears by itself once it is writable."""

    reason = Reason.STORE_NOT_WRITABLE
    retryable = True
    remedy = "Free space on the store's filesystem (or make it writable again); Station resumes by itself."


class ImportRejectedError(StationError):
    """A CSV or directory import was rejected; nothing from it was stored."""

    reason = Reason.IMPORT_INVALID
    remedy = "Fix the rows listed above and import the file again; nothing from it was imported."
    exit_code = 2


class NotFoundError(StationError):
    reason = Reason.NOT_FOUND
    remedy = "Check the spelling, or list what exists with 'station queue list'."


class InvalidStateError(StationError):
    reason = Reason.INVALID_STATE


class KeyOperationError(StationError):
    """A failure on the security key side (CTAP)."""

    reason = Reason.KEY_ERROR
    remedy = "Remove the key and insert it again. If it keeps failing, set the key aside."


class GraphError(StationError):
    """A failure talking to Microsoft Graph / Entra ID."""

    reason = Reason.GRAPH_BAD_REQUEST

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        client_request_id: str | None = None,
        body: object = None,
        **kw: object,
    ) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.status = status
        self.code = code
        self.request_id = request_id
        self.client_request_id = client_request_id
        self.body = body

    def to_dict(self) -> dict[str, object]:
        d = super().to_dict()
        d.update(
            status=self.status,
            code=self.code,
            request_id=self.request_id,
            client_request_id=self.client_request_id,
        )
        return d


class GraphUncertainError(GraphError):
    """A write may or may not have reached Entra; resolve it by reading, never by re-posting."""

    reason = Reason.GRAPH_UNCERTAIN
    retryable = True
    remedy = "Station will check Entra ID for the outcome before doing anything else."


class AuthError(GraphError):
    reason = Reason.AUTH_FAILED
    remedy = "Check the tenant id, client id and client secret or certificate in the configuration."


class ControlError(StationError):
    """A control-socket request was refused, malformed, or the daemon could not be reached."""

    reason = Reason.CONTROL_INVALID
    remedy = "Check the request against the control protocol (one JSON object per line, \"v\": 1)."


class FeedbackError(StationError):
    """An LED or sound device configured for feedback is missing or cannot be written; enrolment goes on."""

    reason = Reason.FEEDBACK_UNAVAILABLE
    retryable = True
    remedy = "Fix the [feedback] section of the configuration, or remove the device from it."
