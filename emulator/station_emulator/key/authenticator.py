"""The virtual key itself: state, user presence, fault injection and CTAP2/U2F command dispatch.

Commands live in their own modules (makecred, assertion, pin, config_cmd, credmgmt, u2f); this module
decodes a request, applies injected faults, runs the handler under the key's lock and encodes the answer
with ``fido2.cbor`` (canonical CBOR, status byte first).
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

from fido2 import cbor
from fido2.ctap import STATUS, CtapError
from fido2.ctap2 import Ctap2

from station_emulator.key import assertion, config_cmd, credmgmt, makecred, u2f
from station_emulator.key.call import Call, Continuation
from station_emulator.key.credentials import CredentialFactory
from station_emulator.key.faults import U2F, Faults
from station_emulator.key.finger import Finger, Touch
from station_emulator.key.info import get_info
from station_emulator.key.pin import PinAuthority
from station_emulator.key.profiles import Profile, Quirk, get_profile
from station_emulator.key.state import KeyState, load_state, save_state

log = logging.getLogger(__name__)

DEFAULT_FIRMWARE = 0x00010000
RESET_WINDOW_SECONDS = 10.0
_CONTINUATION_COMMANDS = {Ctap2.CMD.GET_NEXT_ASSERTION, Ctap2.CMD.CREDENTIAL_MGMT, Ctap2.CMD.CREDENTIAL_MGMT_PRE}


class KeyRemovedError(Exception):
    """The key was pulled out while a command ran (an injected fault); nothing answers."""


class VirtualKey:
    """A software CTAP 2.1 authenticator (or a 2.0 / U2F-only one, per ``profile``).

    ``aaguid``, ``firmware`` and ``capacity`` (resident credential slots) describe the model (the first two
    default to the profile's); ``min_pin_length`` is the factory minimum (a reset returns to it; default the
    profile's); ``quirks`` add misbehaviours of real keys to the profile's own. With ``state_path`` the key's state
    lives in that file: an existing file wins over ``min_pin_length`` and the random serial, so the same
    key comes back. ``enterprise_attestation`` makes the key support it (getInfo ``ep``; enabled through
    authenticatorConfig). ``clock`` (monotonic seconds) times the 10 s reset window after power-up.
    ``finger`` and ``faults`` may be swapped between commands.
    """

    def __init__(
        self,
        profile: str = "fido21",
        *,
        aaguid: str | UUID | None = None,
        firmware: int | None = None,
        capacity: int = 25,
        min_pin_length: int | None = None,
        quirks: frozenset[Quirk] | set[Quirk] = frozenset(),
        state_path: Path | None = None,
        finger: Finger | None = None,
        faults: Faults | None = None,
        serial: str | None = None,
        enterprise_attestation: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.profile_spec: Profile = get_profile(profile)
        self.profile = self.profile_spec.name
        self.aaguid = UUID(str(aaguid)) if aaguid is not None else self.profile_spec.default_aaguid
        self.firmware = firmware if firmware is not None else self.profile_spec.firmware or DEFAULT_FIRMWARE
        self.capacity = capacity
        self.factory_min_pin_length = (min_pin_length if min_pin_length is not None
                                       else self.profile_spec.factory_min_pin_length)
        self.quirks = frozenset(quirks) | self.profile_spec.quirks
        self.supports_enterprise_attestation = enterprise_attestation and self.profile_spec.authnr_cfg
        self.state_path = Path(state_path) if state_path is not None else None
        self.finger = finger if finger is not None else Finger.after(0.0)
        self.faults = faults if faults is not None else Faults()
        self.clock = clock
        self.wink_count = 0
        self.removed = threading.Event()
        self.continuation: Continuation | None = None
        self.u2f_poll: tuple[bytes, float] | None = None
        self._lock = threading.RLock()
        stored = load_state(self.state_path) if self.state_path is not None else None
        self.state = stored if stored is not None else self._factory_state(serial)
        if serial is not None:
            self.state.serial = serial
        self.serial = self.state.serial
        self.credentials = CredentialFactory(self.state.master_key)
        self.pin = PinAuthority(self.state, self.profile_spec, self.save, self.quirks)
        self._powered_at = clock()
        self.save()

    def _factory_state(self, serial: str | None) -> KeyState:
        return KeyState(
            serial=serial if serial is not None else f"{secrets.randbelow(10**8):08d}",
            master_key=os.urandom(32),
            min_pin_length=self.factory_min_pin_length,
            always_uv=self.profile_spec.options.get("alwaysUv") is True,
        )

    def __repr__(self) -> str:
        return f"VirtualKey({self.profile!r}, aaguid={str(self.aaguid)!r}, serial={self.serial!r})"

    def save(self) -> None:
        if self.state_path is not None:
            save_state(self.state_path, self.state)

    def power_cycle(self) -> None:
        """Re-insertion: clears the PIN-mismatch block and tokens, starts the 10 s reset window."""
        with self._lock:
            self.removed.clear()
            self.pin.power_up()
            self.continuation = None
            self._powered_at = self.clock()
            log.debug("%r powered up", self)

    def remaining_resident_slots(self) -> int:
        return max(0, self.capacity - len(self.state.residents))

    def next_signature_count(self) -> int:
        self.state.sign_count += 1
        return self.state.sign_count

    def require_presence(self, call: Call, started: float | None = None, timeout: float | None = None) -> None:
        """Wait for the finger; a refusal, timeout or cancel becomes the matching CTAP error."""
        outcome = self.finger.await_touch(
            cancel=call.cancel, keepalive=call.keepalive, timeout=timeout, started=started
        )
        if outcome is Touch.TOUCHED:
            return
        if outcome is Touch.CANCELLED:
            raise CtapError(CtapError.ERR.KEEPALIVE_CANCEL)
        if outcome is Touch.DENIED:
            raise CtapError(CtapError.ERR.OPERATION_DENIED)
        raise CtapError(CtapError.ERR.USER_ACTION_TIMEOUT)

    def process_cbor(self, request: bytes, *, keepalive: Callable[[int], None],
                     cancel: threading.Event) -> bytes:
        """Run one CTAP2 request (command byte + CBOR map); the answer is status byte + canonical CBOR.

        Raises KeyRemovedError when a fault pulls the key out (then nothing answers until power_cycle).
        """
        if not request:
            return bytes([CtapError.ERR.INVALID_LENGTH])
        if len(request) > self.profile_spec.enforced_max_msg_size:
            log.debug("CTAP2 request of %d bytes over maxMsgSize", len(request))
            return bytes([CtapError.ERR.REQUEST_TOO_LARGE])
        command = request[0]
        call = Call(keepalive, cancel)
        with self._lock:
            if self.removed.is_set():
                raise KeyRemovedError("the key is not inserted")
            try:
                self._before(command, call)
                if not self.profile_spec.ctap2:
                    raise CtapError(CtapError.ERR.INVALID_COMMAND)
                if command not in _CONTINUATION_COMMANDS:
                    self.continuation = None
                result = self._dispatch(command, _decode_params(request[1:]), call)
            except CtapError as e:
                log.debug("CTAP2 command 0x%02x → %s", command, e.code.name)
                self._after(command)
                return bytes([e.code])
            except (TypeError, ValueError, KeyError, AttributeError, IndexError):
                log.debug("CTAP2 command 0x%02x with ill-formed parameters", command, exc_info=True)
                self._after(command)
                return bytes([CtapError.ERR.INVALID_PARAMETER])
            self._after(command)
            encoded = cbor.encode(result) if result else b""
            if self.faults.malforms(command):
                return b"\x00" + (encoded[: len(encoded) // 2] if encoded else b"\xa2\x01")
            return b"\x00" + encoded

    def process_u2f(self, apdu: bytes, *, keepalive: Callable[[int], None], cancel: threading.Event) -> bytes:
        """Run one CTAP1/U2F raw message (ISO 7816 APDU); the answer is response data + SW1 SW2."""
        call = Call(keepalive, cancel)
        with self._lock:
            if self.removed.is_set():
                raise KeyRemovedError("the key is not inserted")
            try:
                self._before(U2F, call)
            except CtapError:
                self._after(U2F)
                return u2f.SW_CONDITIONS_NOT_SATISFIED
            response = u2f.process(self, apdu, call)
            self._after(U2F)
            if self.faults.malforms(U2F):
                return response[: len(response) // 2]
            return response

    def _before(self, command: int | str, call: Call) -> None:
        delay = self.faults.latency_for(command)
        if delay > 0:
            deadline = time.monotonic() + delay
            while (left := deadline - time.monotonic()) > 0:
                call.keepalive(STATUS.PROCESSING)
                if call.cancel.wait(min(0.1, left)):
                    raise CtapError(CtapError.ERR.KEEPALIVE_CANCEL)
        error = self.faults.error_for(command)
        if error is not None:
            raise CtapError(error)

    def _after(self, command: int | str) -> None:
        if self.faults.removes(command):
            self.removed.set()
            log.info("%r removed during command %s", self, command)
            raise KeyRemovedError("the key was removed during the command")

    def _dispatch(self, command: int, params: dict[int, Any], call: Call) -> dict[Any, Any]:
        spec = self.profile_spec
        if command == Ctap2.CMD.GET_INFO:
            return get_info(self)
        if command == Ctap2.CMD.MAKE_CREDENTIAL:
            return makecred.make_credential(self, params, call)
        if command == Ctap2.CMD.GET_ASSERTION:
            return assertion.get_assertion(self, params, call)
        if command == Ctap2.CMD.GET_NEXT_ASSERTION:
            return assertion.get_next_assertion(self)
        if command == Ctap2.CMD.CLIENT_PIN and spec.client_pin:
            return self.pin.client_pin(params)
        if command == Ctap2.CMD.RESET:
            self._reset(call)
            return {}
        if command == Ctap2.CMD.SELECTION and spec.selection:
            self.require_presence(call)
            return {}
        if (command == Ctap2.CMD.CREDENTIAL_MGMT and spec.cred_mgmt) or (
                command == Ctap2.CMD.CREDENTIAL_MGMT_PRE and spec.cred_mgmt_preview):
            return credmgmt.credential_management(self, params)
        if command == Ctap2.CMD.CONFIG and spec.authnr_cfg:
            return config_cmd.authenticator_config(self, params)
        raise CtapError(CtapError.ERR.INVALID_COMMAND)

    def _reset(self, call: Call) -> None:
        if self.clock() - self._powered_at > RESET_WINDOW_SECONDS:
            raise CtapError(CtapError.ERR.NOT_ALLOWED)
        self.require_presence(call)
        self.wipe()

    def wipe(self) -> None:
        """Factory reset: new master key, no PIN, no credentials, factory PIN policy; the serial stays."""
        with self._lock:
            self.state = self._factory_state(self.state.serial)
            self.credentials = CredentialFactory(self.state.master_key)
            self.pin.replace_state(self.state)
            self.continuation = None
            self.save()
            log.info("%r reset", self)


def _decode_params(data: bytes) -> dict[int, Any]:
    if not data:
        return {}
    try:
        params = cbor.decode(data)
    except Exception:
        raise CtapError(CtapError.ERR.INVALID_CBOR) from None
    if not isinstance(params, dict):
        raise CtapError(CtapError.ERR.CBOR_UNEXPECTED_TYPE)
    return params
