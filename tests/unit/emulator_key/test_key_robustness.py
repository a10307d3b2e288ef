"""Whatever a host sends, the key answers with a CTAP status (and canonical CBOR), never a crash."""

from __future__ import annotations

import threading

from fido2 import cbor
from fido2.ctap import CtapError
from hypothesis import given, settings
from hypothesis import strategies as st

from station_emulator.key import VirtualKey

KEY = VirtualKey()
COMMANDS = st.sampled_from([0x01, 0x02, 0x04, 0x06, 0x07, 0x08, 0x0A, 0x0B, 0x0D, 0x3F])
VALUES = st.recursive(
    st.booleans() | st.integers(-300, 300) | st.binary(max_size=80) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.integers(-3, 10) | st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12,
)


def process(request: bytes) -> bytes:
    return KEY.process_cbor(request, keepalive=lambda _: None, cancel=threading.Event())


@settings(max_examples=300, deadline=None)
@given(COMMANDS, st.dictionaries(st.integers(1, 10), VALUES, max_size=6))
def test_any_parameter_map_gets_a_status(command: int, params: dict[int, object]) -> None:
    response = process(bytes([command]) + cbor.encode(params))
    assert response
    if response[0] == 0 and len(response) > 1:
        assert cbor.encode(cbor.decode(response[1:])) == response[1:]
    else:
        assert len(response) == 1


def test_garbage_cbor_and_wrong_types() -> None:
    assert process(b"\x01\xff\x00") == bytes([CtapError.ERR.INVALID_CBOR])
    assert process(b"\x01" + cbor.encode([1, 2])) == bytes([CtapError.ERR.CBOR_UNEXPECTED_TYPE])
    assert process(b"") == bytes([CtapError.ERR.INVALID_LENGTH])
    assert process(b"\x55") == bytes([CtapError.ERR.INVALID_COMMAND])
