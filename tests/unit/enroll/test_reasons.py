"""Every failure the issue names has a reason code and a technician-facing remedy; CTAP errors map once."""

from __future__ import annotations

import pytest
from fido2.ctap import CtapError

from station.enroll.reasons import failure, from_ctap, remedy_for
from station.errors import Reason

NAMED_FAILURES = [
    Reason.PIN_ALREADY_SET, Reason.AAGUID_NOT_ALLOWED, Reason.U2F_ONLY, Reason.FEATURE_MISSING, Reason.KEY_FULL,
    Reason.TOUCH_TIMEOUT, Reason.KEY_REMOVED, Reason.OPERATOR_CANCELLED, Reason.GRAPH_THROTTLED, Reason.GRAPH_DENIED,
    Reason.GRAPH_POLICY,
    Reason.ALREADY_REGISTERED, Reason.USER_NOT_FOUND, Reason.QUEUE_EMPTY, Reason.KEY_NEEDS_RESET,
    Reason.KEY_RP_MISMATCH, Reason.KEY_NO_PRESENCE, Reason.KEY_NO_VERIFICATION, Reason.AAGUID_MISMATCH,
    Reason.CREDENTIAL_ID_TOO_LONG, Reason.ATTESTATION_INVALID, Reason.RP_ID_MISMATCH,
    Reason.MODEL_COMPROMISED, Reason.ATTESTATION_UNTRUSTED,
]


@pytest.mark.parametrize("reason", NAMED_FAILURES)
def test_each_named_failure_has_its_own_remedy(reason: Reason) -> None:
    assert remedy_for(reason) != remedy_for(Reason.INTERNAL)
    err = failure(reason, "x")
    assert err.reason is reason and err.remedy == remedy_for(reason)


@pytest.mark.parametrize(("code", "reason"), [
    (CtapError.ERR.USER_ACTION_TIMEOUT, Reason.TOUCH_TIMEOUT),
    (CtapError.ERR.OPERATION_DENIED, Reason.TOUCH_DENIED),
    (CtapError.ERR.CREDENTIAL_EXCLUDED, Reason.ALREADY_REGISTERED),
    (CtapError.ERR.KEY_STORE_FULL, Reason.KEY_FULL),
    (CtapError.ERR.INVALID_CBOR, Reason.KEY_ERROR),
])
def test_ctap_errors_translate_to_reasons(code: CtapError.ERR, reason: Reason) -> None:
    assert from_ctap(CtapError(code), "makeCredential").reason is reason


def test_not_allowed_means_the_reset_window_only_for_a_reset() -> None:
    assert from_ctap(CtapError(CtapError.ERR.NOT_ALLOWED), "reset").reason is Reason.RESET_WINDOW
    assert from_ctap(CtapError(CtapError.ERR.NOT_ALLOWED), "setPIN").reason is Reason.KEY_ERROR


def test_unknown_codes_keep_their_number() -> None:
    assert "UNKNOWN_ERR" in from_ctap(CtapError(0x99), "getInfo").message
