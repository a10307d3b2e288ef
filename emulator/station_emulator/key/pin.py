"""clientPIN on the authenticator side: PIN/UV auth protocols 1 and 2, retries, tokens and permissions.

The protocol math (KDF, AES-CBC, HMAC) is python-fido2's own ``PinProtocolV1``/``PinProtocolV2``, used
from the authenticator's end: the key owns the key-agreement key pair, the platform sends its half.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from fido2.ctap import CtapError
from fido2.ctap2.pin import ClientPin, PinProtocol, PinProtocolV1, PinProtocolV2

from station_emulator.key.profiles import Profile, Quirk
from station_emulator.key.state import PIN_RETRIES_MAX, KeyState

log = logging.getLogger(__name__)

ERR = CtapError.ERR
CMD = ClientPin.CMD
PERMISSION = ClientPin.PERMISSION
MAX_CONSECUTIVE_MISMATCHES = 3
MAX_PIN_LENGTH = 63
PROTOCOLS: dict[int, PinProtocol] = {1: PinProtocolV1(), 2: PinProtocolV2()}
ALL_PERMISSIONS = (
    PERMISSION.MAKE_CREDENTIAL | PERMISSION.GET_ASSERTION | PERMISSION.CREDENTIAL_MGMT
    | PERMISSION.AUTHENTICATOR_CFG
)


@dataclass
class PinUvAuthToken:
    """The one pinUvAuthToken a key holds at a time, with its permissions and bound RP ID."""

    value: bytes
    protocol: int
    permissions: int
    rp_id: str | None


class PinAuthority:
    """Handles authenticatorClientPIN and checks pinUvAuthParam for the other commands."""

    def __init__(self, state: KeyState, profile: Profile, save: Callable[[], None],
                 quirks: frozenset[Quirk] = frozenset()) -> None:
        self._state = state
        self._profile = profile
        self._protocol_2_fails = Quirk.PIN_PROTOCOL_2_FAILS in quirks
        self._save = save
        self._mismatches = 0
        self._agreement_key = ec.generate_private_key(ec.SECP256R1())
        self.token: PinUvAuthToken | None = None

    def power_up(self) -> None:
        """A fresh insertion: new key agreement, no token, the consecutive-mismatch count cleared."""
        self._mismatches = 0
        self._agreement_key = ec.generate_private_key(ec.SECP256R1())
        self.token = None

    def replace_state(self, state: KeyState) -> None:
        self._state = state
        self.power_up()

    @property
    def power_cycle_required(self) -> bool:
        return self._mismatches >= MAX_CONSECUTIVE_MISMATCHES

    def protocol(self, version: Any) -> PinProtocol:
        if not isinstance(version, int) or version not in self._profile.accepted_pin_protocols:
            raise CtapError(ERR.INVALID_PARAMETER)
        return PROTOCOLS[version]

    def shared_secret(self, protocol: PinProtocol, platform_key: Any) -> bytes:
        """ECDH with the platform's COSE key, then the protocol's KDF."""
        if not isinstance(platform_key, Mapping):
            raise CtapError(ERR.MISSING_PARAMETER)
        try:
            x = int.from_bytes(platform_key[-2], "big")
            y = int.from_bytes(platform_key[-3], "big")
            peer = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
        except (KeyError, TypeError, ValueError):
            raise CtapError(ERR.INVALID_PARAMETER) from None
        z = self._agreement_key.exchange(ec.ECDH(), peer)
        return protocol.kdf(z)  # type: ignore[attr-defined]

    def verify_token(self, protocol_version: Any, param: Any, message: bytes, permission: int,
                     rp_id: str | None) -> None:
        """Check a command's pinUvAuthParam against the current token, its permissions and RP binding.

        An RP-less token is bound to the first RP ID it is used with.
        """
        protocol = self.protocol(protocol_version)
        token = self.token
        if token is None or token.protocol != protocol_version or not isinstance(param, bytes):
            raise CtapError(ERR.PIN_AUTH_INVALID)
        self._refuse_broken_protocol(protocol)
        if not hmac.compare_digest(protocol.authenticate(token.value, message), param):
            raise CtapError(ERR.PIN_AUTH_INVALID)
        if not token.permissions & permission:
            raise CtapError(ERR.PIN_AUTH_INVALID)
        if rp_id is not None:
            if token.rp_id is not None and token.rp_id != rp_id:
                raise CtapError(ERR.PIN_AUTH_INVALID)
            token.rp_id = rp_id

    def token_bound_rp(self) -> str | None:
        return self.token.rp_id if self.token else None

    def keep_only_large_blob_write(self) -> None:
        """CTAP 2.1: once a token has been used with user presence, only the lbw permission survives."""
        if self.token is not None:
            self.token.permissions &= PERMISSION.LARGE_BLOB_WRITE

    def client_pin(self, params: Mapping[int, Any]) -> dict[int, Any]:
        sub = params.get(2)
        if 1 not in params or sub is None:
            raise CtapError(ERR.MISSING_PARAMETER)
        protocol = self.protocol(params[1])
        if sub == CMD.GET_PIN_RETRIES:
            result: dict[int, Any] = {ClientPin.RESULT.PIN_RETRIES: self._state.pin_retries}
            if self._profile.pin_uv_auth_token:
                result[ClientPin.RESULT.POWER_CYCLE_STATE] = self.power_cycle_required
            return result
        if sub == CMD.GET_KEY_AGREEMENT:
            return {ClientPin.RESULT.KEY_AGREEMENT: self._agreement_cose_key()}
        if sub == CMD.SET_PIN:
            self._set_pin(protocol, params)
            return {}
        if sub == CMD.CHANGE_PIN:
            self._change_pin(protocol, params)
            return {}
        if sub == CMD.GET_TOKEN_USING_PIN_LEGACY:
            if 9 in params or 10 in params:
                raise CtapError(ERR.INVALID_PARAMETER)
            legacy = PERMISSION.MAKE_CREDENTIAL | PERMISSION.GET_ASSERTION
            permissions = legacy if self._profile.pin_uv_auth_token else ALL_PERMISSIONS
            return self._issue_token(protocol, params, permissions, None)
        if sub == CMD.GET_TOKEN_USING_PIN and self._profile.pin_uv_auth_token:
            return self._issue_token(protocol, params, self._requested_permissions(params), params.get(10))
        raise CtapError(ERR.INVALID_SUBCOMMAND)

    def _agreement_cose_key(self) -> dict[int, Any]:
        numbers = self._agreement_key.public_key().public_numbers()
        return {1: 2, 3: -25, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")}

    def _requested_permissions(self, params: Mapping[int, Any]) -> int:
        permissions = params.get(9)
        if permissions is None:
            raise CtapError(ERR.MISSING_PARAMETER)
        if not isinstance(permissions, int) or permissions == 0:
            raise CtapError(ERR.INVALID_PARAMETER)
        supported = PERMISSION.MAKE_CREDENTIAL | PERMISSION.GET_ASSERTION
        if self._profile.cred_mgmt:
            supported |= PERMISSION.CREDENTIAL_MGMT
        if self._profile.authnr_cfg:
            supported |= PERMISSION.AUTHENTICATOR_CFG
        if permissions & ~supported:
            raise CtapError(ERR.UNAUTHORIZED_PERMISSION)
        rp_id = params.get(10)
        if permissions & (PERMISSION.MAKE_CREDENTIAL | PERMISSION.GET_ASSERTION) and rp_id is None:
            raise CtapError(ERR.MISSING_PARAMETER)
        return permissions

    def _issue_token(self, protocol: PinProtocol, params: Mapping[int, Any], permissions: int,
                     rp_id: Any) -> dict[int, Any]:
        if 3 not in params or 6 not in params:
            raise CtapError(ERR.MISSING_PARAMETER)
        if rp_id is not None and not isinstance(rp_id, str):
            raise CtapError(ERR.INVALID_PARAMETER)
        if not self._state.pin_set:
            raise CtapError(ERR.PIN_NOT_SET)
        if self._state.pin_retries == 0:
            raise CtapError(ERR.PIN_BLOCKED)
        shared = self.shared_secret(protocol, params[3])
        self._check_pin_hash(protocol, shared, params[6])
        if self._state.force_pin_change:
            raise CtapError(ERR.PIN_POLICY_VIOLATION)
        self.token = PinUvAuthToken(os.urandom(32), protocol.VERSION, permissions, rp_id)
        log.debug("pinUvAuthToken issued, permissions 0x%02x", permissions)
        return {ClientPin.RESULT.PIN_UV_TOKEN: protocol.encrypt(shared, self.token.value)}

    def _check_pin_hash(self, protocol: PinProtocol, shared: bytes, pin_hash_enc: Any) -> None:
        if self.power_cycle_required:
            raise CtapError(ERR.PIN_AUTH_BLOCKED)
        self._state.pin_retries -= 1
        self._save()
        try:
            pin_hash = protocol.decrypt(shared, pin_hash_enc)
        except (TypeError, ValueError):
            pin_hash = b""
        if not hmac.compare_digest(pin_hash, self._state.pin_hash or b""):
            self._agreement_key = ec.generate_private_key(ec.SECP256R1())
            self._mismatches += 1
            log.info("PIN mismatch, %d retries left", self._state.pin_retries)
            if self._state.pin_retries == 0:
                raise CtapError(ERR.PIN_BLOCKED)
            if self.power_cycle_required:
                raise CtapError(ERR.PIN_AUTH_BLOCKED)
            raise CtapError(ERR.PIN_INVALID)
        self._mismatches = 0
        self._state.pin_retries = PIN_RETRIES_MAX
        self._save()

    def _decrypt_new_pin(self, protocol: PinProtocol, shared: bytes, new_pin_enc: Any) -> str:
        expected = 64 if protocol.VERSION == 1 else 80
        if not isinstance(new_pin_enc, bytes) or len(new_pin_enc) != expected:
            raise CtapError(ERR.INVALID_PARAMETER)
        padded = protocol.decrypt(shared, new_pin_enc)
        try:
            pin = padded.rstrip(b"\0").decode("utf-8")
        except UnicodeDecodeError:
            raise CtapError(ERR.PIN_POLICY_VIOLATION) from None
        if len(pin) < self._state.min_pin_length or len(pin.encode()) > MAX_PIN_LENGTH:
            raise CtapError(ERR.PIN_POLICY_VIOLATION)
        if self._profile.numeric_pin_only and not pin.isdigit():  # Token2 PIN+ (token2/fido2-manage#33)
            raise CtapError(ERR.PIN_POLICY_VIOLATION)
        return pin

    def _refuse_broken_protocol(self, protocol: PinProtocol) -> None:
        """The quirk of keys that list PIN protocol 2 but fail every pinUvAuthParam made with it."""
        if self._protocol_2_fails and protocol.VERSION == 2:
            raise CtapError(ERR.PIN_AUTH_INVALID)

    def _verify_param(self, protocol: PinProtocol, shared: bytes, message: bytes, param: Any) -> None:
        self._refuse_broken_protocol(protocol)
        if not isinstance(param, bytes) or not hmac.compare_digest(protocol.authenticate(shared, message), param):
            raise CtapError(ERR.PIN_AUTH_INVALID)

    def _set_pin(self, protocol: PinProtocol, params: Mapping[int, Any]) -> None:
        if 3 not in params or 4 not in params or 5 not in params:
            raise CtapError(ERR.MISSING_PARAMETER)
        if self._state.pin_set:
            raise CtapError(ERR.NOT_ALLOWED)
        shared = self.shared_secret(protocol, params[3])
        self._verify_param(protocol, shared, params[5], params[4])
        pin = self._decrypt_new_pin(protocol, shared, params[5])
        self._store_pin(pin)
        log.info("PIN set")

    def _change_pin(self, protocol: PinProtocol, params: Mapping[int, Any]) -> None:
        if any(k not in params for k in (3, 4, 5, 6)):
            raise CtapError(ERR.MISSING_PARAMETER)
        if not self._state.pin_set:
            raise CtapError(ERR.PIN_NOT_SET)
        if self._state.pin_retries == 0:
            raise CtapError(ERR.PIN_BLOCKED)
        shared = self.shared_secret(protocol, params[3])
        self._verify_param(protocol, shared, params[5] + params[6], params[4])
        self._check_pin_hash(protocol, shared, params[6])
        pin = self._decrypt_new_pin(protocol, shared, params[5])
        if self._state.force_pin_change and hmac.compare_digest(_pin_hash(pin), self._state.pin_hash or b""):
            raise CtapError(ERR.PIN_POLICY_VIOLATION)
        self._store_pin(pin)
        self.token = None
        log.info("PIN changed")

    def _store_pin(self, pin: str) -> None:
        self._state.pin_hash = _pin_hash(pin)
        self._state.pin_length = len(pin)
        self._state.pin_retries = PIN_RETRIES_MAX
        self._state.force_pin_change = False
        self._save()


def _pin_hash(pin: str) -> bytes:
    return hashlib.sha256(pin.encode()).digest()[:16]
