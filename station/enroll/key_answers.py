"""The CTAP objects the enrolment speaks to a key through, reading every answer with ``key_answers()``.

python-fido2 turns a key's CBOR into its own types (``Info``, ``AttestationResponse``, a PIN token) after
the device returned the bytes, so the devices of ``station.hid`` cannot see those parsing failures: these
subclasses catch them where each command returns, so that a broken or hostile key fails its session with
KEY_ERROR and anything else that escapes is the station's own error.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from fido2.ctap2 import ClientPin, Ctap2

from station.hid.key_devices import key_answers

C = TypeVar("C", bound=type)

CTAP2_COMMANDS = ("get_info", "send_cbor", "make_credential", "get_assertion", "get_next_assertion",
                  "get_assertions", "client_pin", "reset", "config", "credential_mgmt", "selection")
CLIENT_PIN_COMMANDS = ("get_pin_token", "get_uv_token", "get_pin_retries", "get_uv_retries", "set_pin",
                       "change_pin")


def _reading_answers(*names: str) -> Callable[[C], C]:
    def decorate(cls: C) -> C:
        for name in names:
            original = getattr(cls, name)

            @functools.wraps(original)
            def wrapped(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
                with key_answers():
                    return _original(self, *args, **kwargs)

            setattr(cls, name, wrapped)
        return cls

    return decorate


@_reading_answers(*CTAP2_COMMANDS)
class KeyCtap2(Ctap2):
    """``Ctap2`` whose commands (and the getInfo its constructor sends) read answers with ``key_answers()``."""


@_reading_answers(*CLIENT_PIN_COMMANDS)
class KeyClientPin(ClientPin):
    """``ClientPin`` whose commands read the key's answers (key agreement, PIN token) with ``key_answers()``."""
