"""Known answers: PINs sealed in the two persisted escrow formats open, under their enrolment's
context only.

The sealed strings below were made once with ``Escrow.seal`` and are stored as constants: a store holds PINs
sealed this way (``x25519:v1:`` sealed box, ``rsa-oaep:v1:`` RSA-OAEP-SHA256) and ``station pins`` must open them
after any refactor. If one of these tests fails, the persisted format changed: add a new version instead."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa, x25519

from station.enroll.escrow import (
    Escrow,
    EscrowError,
    context_for,
    load_private_key,
    load_public_key,
    open_sealed,
)
from station.store.handouts import tap_context

# X25519: private scalar 40 41 … 5f, as `station pins keygen` writes it (PKCS#8 PEM, unencrypted).
X25519_PRIVATE_PEM = b"""-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VuBCIEIEBBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5f
-----END PRIVATE KEY-----
"""
X25519_PRIVATE_HEX = "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
X25519_PUBLIC_HEX = "79a631eede1bf9c98f12032cdeadd0e7a079398fc786b88cc846ec89af85a51a"
X25519_SEALED_FOR_ENROLMENT_42 = ("x25519:v1:mvi5UdlGO97J6ztAplQivNtNKw3pA+xBJqhJVktP/15ham7ZCW0zTUrzBL+bIcoFMTQasOJEul"
                                  "L9VeapHn3Yr90l")
X25519_PIN = "493817"

# RSA-2048, a test key made for this vector only.
RSA_PRIVATE_PEM = b"""-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDktrGG0f9LETTe
OEY1kobUgWTkGlPRa9RSGFW/y44ANipX2KmrGIbh/wxOjzM8I7az1KwWPgeRQW0o
CFMagoyhV7feyyz0HjJWA2m2Spth5gPP+bBVdDp44i/E0ojB9zh6j/NSM85BkRmR
h8EjzsYOc6vfn7jAt3dqiefrX1BxDOMEaUyeC+QbXJt+TKpuApXVv5tvucakJxYK
bmOf1MverNujcZ7qCpyNxPAWDtAFJ+EC/4jJhY/xNDPWPXF9b6VVvbR1YHjA76pj
GbKStKqS/u9IsCQJZNaJ2WsoElIYG38SKd6pLhESJ38DnSoT0TfSvf9lTeCVX5fR
Wi54Sd3zAgMBAAECggEAO3W7pX9Gza9FfVhH+HmFkA2ruxmVHObZphYphNlYq3lp
fLkZMyAHQQ3blzjnawUl5I6vxoCN2xeVV0kCweuav/9cEBHmN/j5wR7WBsxSpRr1
dsZFL5It+WtkW9kYMMUi68osyfwp7SXZ7dnLPpHtL6im0FZn48JOy2Xa43g+I4Vm
M14Cta3jCdHyYsmU1YRFo/KdGJqS7gAr9q3lKEiKFpTKxukvenFT165ir3LlMfqT
xF0LCHQB4Kai0HFRGupMXz5mEQMvkH/wKlkogNof0vgidbZ6ywXw5giorjW+05iN
LQnNyn8WoLbDpKZ1nwc6TRNx+Mn/hGp5Bhe3lrb20QKBgQD9mcWWkYBkedVUdS4y
0CBYmSHAFT5XNoQ9xqWRU1V7yRJ2LRos3QoTqksl5iIYumT7WGd97y5wYvPUMJvy
u//ODrKnAsFZljnj5smhDcvha6Y3NgrYYG0FyVsIZjMIvhJMPQy8Xs952lR4HnsM
EzDW9WWgNvfYVGwQf9bpi4KBhQKBgQDm4KUAjH2qIHJjqaYuTp/ACw9AbMmxlz1O
BRI8vCOu79izW4mA9h8fL5cVYECMEPpIsth6zGlMgFSTWQAKbT6RoJyv/+ZsQEOD
cE2AWF12Kvu4rRdMqL8kM9WFe4w2IRmBHsC3XcyHS1YSWmOAwYmrmHkr0jtXwtRf
6errCZa/FwKBgG9ix+9PLxZykKmM4mK9GUfw0mscqYoCzuiXRIdlE8nP0gUH4FRO
Lavfgyw9PUKhM9NVy/b7Q+lm/PN4+jYOLtfhisRiKGxh2EFqT6smdSModhQP74mE
KL5+5zX0NXwkh8LmmZ5vAi/iHnG36ZGvKCdyF1XcbtWclu5USB/B/+tFAoGBAN0+
FKBMAPgQk81xevARJADSGFFybm0iMvsa3PkaiU9QQ+bMJx5PvE8UOcGgNPqEInOb
/treG2HV8DYrKWDUgwrmUIBPxy2g/5FrArmk9BsS4Zl9NUCezFwS1+BMHnaYjWow
YBjXZ/GWfeqkd4mg7R5kxGj70yYsa3tmG1oUHEMNAoGAKwo+f3EsZs5pWeF7yGGu
4Ohx/pP7EV8ZUw/U4PeWNHfXkWw+alqEdX303YKhZyltp/JfJnPXQin4xy4k+B6b
17/h4x1iy8Z+S5zUkCH+EeOMvV1DdoXx+1lSzPekm87myz8v+UoWsq27dIae5cpp
cBTulSRwj1uWRoI6R3XrT2E=
-----END PRIVATE KEY-----
"""
RSA_SEALED_FOR_ENROLMENT_1001 = (
    "rsa-oaep:v1:xZlU6mamyFSFI7cn8NJ6Fwhm4drK202iYobvxFk+LO2N4MnlKYA06Pa9gHaE/PBYUrZwQvteqMy7UP5YDLXZHmS3EADbAYaRU+"
    "FBq2xOcBku7EmJItAOiyGr/og9tzF1vhv4bjGuJaSX4ubR4qtT4GF/jSh/jSByygZjSkVlQarrUyn6FzyFO9tJzfNJQaATN2740MJa9C1tBP"
    "4HO97zndI+ItS5xjfS0hQqqxGPgP0CRcktmTL5wCJ6L4o2boBLYEtLkw23SP0t+98NmgTKgJIuCItQgmlCZt8HjFZCR3e3uazcsk/b9EWQDB"
    "WBnB0ogoJpPXMP36zBTLR+1AxnDg==")
RSA_PIN = "27051964"


def _x25519() -> x25519.X25519PrivateKey:
    key = load_private_key(X25519_PRIVATE_PEM)
    assert isinstance(key, x25519.X25519PrivateKey)
    return key


def _rsa() -> rsa.RSAPrivateKey:
    key = load_private_key(RSA_PRIVATE_PEM)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def test_the_context_of_an_enrolment_is_fixed() -> None:
    assert context_for(42) == "station enrolment 42"
    assert context_for(1001) == "station enrolment 1001"


def test_the_x25519_vector_key_is_the_one_described() -> None:
    key = _x25519()
    assert key.private_bytes_raw().hex() == X25519_PRIVATE_HEX
    assert key.public_key().public_bytes_raw().hex() == X25519_PUBLIC_HEX


def test_an_x25519_v1_sealed_pin_opens_for_its_enrolment() -> None:
    assert open_sealed(_x25519(), X25519_SEALED_FOR_ENROLMENT_42, context_for(42)) == X25519_PIN


def test_an_rsa_oaep_v1_sealed_pin_opens_for_its_enrolment() -> None:
    assert open_sealed(_rsa(), RSA_SEALED_FOR_ENROLMENT_1001, context_for(1001)) == RSA_PIN


@pytest.mark.parametrize("context", [context_for(43), context_for(4), tap_context(42), ""])
def test_an_x25519_v1_sealed_pin_does_not_open_under_another_context(context: str) -> None:
    with pytest.raises(EscrowError):
        open_sealed(_x25519(), X25519_SEALED_FOR_ENROLMENT_42, context)


@pytest.mark.parametrize("context", [context_for(1000), context_for(100), tap_context(1001), ""])
def test_an_rsa_oaep_v1_sealed_pin_does_not_open_under_another_context(context: str) -> None:
    with pytest.raises(EscrowError):
        open_sealed(_rsa(), RSA_SEALED_FOR_ENROLMENT_1001, context)


def test_a_sealed_pin_does_not_open_with_the_other_kind_of_key() -> None:
    with pytest.raises(EscrowError):
        open_sealed(_rsa(), X25519_SEALED_FOR_ENROLMENT_42, context_for(42))
    with pytest.raises(EscrowError):
        open_sealed(_x25519(), RSA_SEALED_FOR_ENROLMENT_1001, context_for(1001))


def test_the_x25519_v1_envelope_layout() -> None:
    # ephemeral public key (32) ‖ nonce (12) ‖ ChaCha20-Poly1305 ciphertext (PIN + 16-byte tag), standard base64.
    raw = base64.b64decode(X25519_SEALED_FOR_ENROLMENT_42.removeprefix("x25519:v1:"), validate=True)
    assert len(raw) == 32 + 12 + len(X25519_PIN) + 16


def test_the_rsa_oaep_v1_envelope_layout() -> None:
    raw = base64.b64decode(RSA_SEALED_FOR_ENROLMENT_1001.removeprefix("rsa-oaep:v1:"), validate=True)
    assert len(raw) == _rsa().key_size // 8


@pytest.mark.parametrize(
    ("private", "prefix"), [(X25519_PRIVATE_PEM, "x25519:v1:"), (RSA_PRIVATE_PEM, "rsa-oaep:v1:")])
def test_what_is_sealed_today_is_in_the_same_format_and_opens(private: bytes, prefix: str) -> None:
    key = load_private_key(private)
    public = load_public_key(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    sealed = Escrow(public).seal("0000", context_for(7))
    assert sealed.startswith(prefix)
    assert open_sealed(key, sealed, context_for(7)) == "0000"
