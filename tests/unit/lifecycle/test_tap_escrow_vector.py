"""Known answer: a hand-out's TAP sealed by an earlier release still opens, under that hand-out's context only.

The envelope is the PIN escrow's (x25519:v1); what is new is the context string, which a refactor must not change:
a sealed TAP in a store would then no longer open for its letter."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import x25519

from station.enroll.escrow import EscrowError, context_for, open_sealed
from station.store.handouts import tap_context

PRIVATE = x25519.X25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
SEALED_FOR_HANDOUT_7 = ("x25519:v1:lRBrYB24Ap7Zmz9YP+bWFHBkNCl0Av7Jzp1dyppZkzbeqgItbi9HDHsx5A5caon8ykuC+EuXzF4XN4gH4"
                        "JCUxoRgRZhiZA==")


def test_a_sealed_tap_opens_for_its_handout() -> None:
    assert tap_context(7) == "station handout 7"
    assert open_sealed(PRIVATE, SEALED_FOR_HANDOUT_7, tap_context(7)) == "Tap!2345xY"


@pytest.mark.parametrize("context", [tap_context(8), context_for(7)])
def test_it_does_not_open_for_another_handout_or_an_enrolment(context: str) -> None:
    with pytest.raises(EscrowError):
        open_sealed(PRIVATE, SEALED_FOR_HANDOUT_7, context)
