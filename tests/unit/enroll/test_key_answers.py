"""A key's answer python-fido2 cannot read is the key's failure (KEY_ERROR), decided where the station calls
python-fido2 — the USB device and the enrolment's CTAP objects — not by where an exception came from."""

from __future__ import annotations

import pytest
from fido2.ctap import CtapError
from fido2.ctap2 import Ctap2

from station.enroll.key_answers import KeyCtap2
from station.enroll.pin_protocol import client_pin_for
from station.errors import GraphError, Reason
from station.hid.key_devices import MalformedAnswer, UsbKeyDevice, key_answers, open_usb_key
from station_emulator.key import VirtualKey
from station_emulator.key.ctaphid import open_virtual_device
from station_emulator.key.faults import Faults


def test_parsing_failures_become_malformed_answers_and_other_errors_pass() -> None:
    with pytest.raises(MalformedAnswer) as caught, key_answers():
        {}[3]  # what reading a map without a required field raises
    assert caught.value.reason is Reason.KEY_ERROR and caught.value.retryable
    assert "the key's answer was malformed (KeyError: 3)" in caught.value.message
    assert caught.value.during("inspecting").message.startswith("inspecting: the key's answer was malformed")
    with pytest.raises(CtapError), key_answers():
        raise CtapError(CtapError.ERR.PIN_INVALID)
    with pytest.raises(GraphError), key_answers():
        raise GraphError("Graph refused")


def test_truncated_cbor_from_a_key_fails_as_the_keys_answer() -> None:
    key = VirtualKey(faults=Faults(malformed={"client_pin"}))
    device = open_virtual_device(key, device=open_usb_key)
    assert isinstance(device, UsbKeyDevice)
    ctap = KeyCtap2(device)
    assert ctap.info.versions  # a well-formed answer reads as before
    with pytest.raises(MalformedAnswer):
        client_pin_for(ctap).get_pin_retries()


def test_python_fido2_alone_raises_its_parser_errors() -> None:
    """What the classes above are for: without them, the same answer escapes as a bare parser error."""
    key = VirtualKey(faults=Faults(malformed={"client_pin"}))
    from fido2.ctap2 import ClientPin

    with pytest.raises(Exception) as caught:
        ClientPin(Ctap2(open_virtual_device(key))).get_pin_retries()
    assert not isinstance(caught.value, CtapError | MalformedAnswer)
