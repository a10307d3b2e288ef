"""The virtual key's NFC face through the real PC/SC stack: python-fido2 → pyscard → pcscd → vpcd → applet.

Registration and authentication are judged by python-fido2's own client and server; the APDU-level
paths (chaining, 61xx + GET RESPONSE, extended APDUs, keepalive polling, status words) are checked on
the APDUs pyscard actually exchanged.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from fido2 import cbor
from fido2.attestation import AttestationVerifier, UntrustedAttestation
from fido2.client import ClientError, DefaultClientDataCollector, Fido2Client, UserInteraction
from fido2.ctap import STATUS, CtapError
from fido2.ctap1 import Ctap1
from fido2.ctap2 import ClientPin, Ctap2, Info
from fido2.pcsc import CtapPcscDevice
from fido2.server import Fido2Server
from fido2.webauthn import PublicKeyCredentialRpEntity, PublicKeyCredentialUserEntity
from smartcard.CardConnectionObserver import CardConnectionObserver
from smartcard.pcsc.PCSCReader import PCSCReader

from station_emulator.key import Faults, Finger, VirtualKey, attestation_root_pem
from station_emulator.key.vpcd import VpcdCard

if TYPE_CHECKING:
    from realstack import Pcscd

pytest_plugins = ["realstack"]
pytestmark = pytest.mark.realstack

RP = PublicKeyCredentialRpEntity(id="example.com", name="Example")
ORIGIN = "https://example.com"
PIN = "48151623"


class ApduLog(CardConnectionObserver):
    """Every command and response APDU pyscard exchanged with the card."""

    def __init__(self) -> None:
        self.commands: list[bytes] = []
        self.status_words: list[tuple[int, int]] = []

    def update(self, observable: Any, event: Any) -> None:
        if event.type == "command":
            self.commands.append(bytes(event.args[0]))
        elif event.type == "response":
            self.status_words.append((event.args[-2], event.args[-1]))


class Technician(UserInteraction):
    def __init__(self) -> None:
        self.prompted = threading.Event()

    def prompt_up(self) -> None:
        self.prompted.set()

    def request_pin(self, permissions: Any, rd_id: Any) -> str:
        return PIN

    def request_uv(self, permissions: Any, rd_id: Any) -> bool:
        return True


class RootVerifier(AttestationVerifier):
    def __init__(self, root_der: bytes | None) -> None:
        super().__init__()
        self.root_der = root_der

    def ca_lookup(self, attestation_result: Any, auth_data: Any) -> bytes | None:
        return self.root_der


def root_der() -> bytes:
    return x509.load_pem_x509_certificate(attestation_root_pem()).public_bytes(Encoding.DER)


@contextmanager
def key_in_reader(pcscd: Pcscd, key: VirtualKey) -> Iterator[tuple[CtapPcscDevice, ApduLog]]:
    """Insert ``key`` into the test pcscd's vpcd reader and connect python-fido2 to it."""
    card = VpcdCard(key, port=pcscd.vpcd_port())
    card.insert()
    try:
        pcscd.wait_for_card()
        connection = PCSCReader(pcscd.reader()).createConnection()
        log = ApduLog()
        connection.addObserver(log)
        device = CtapPcscDevice(connection, pcscd.reader())
        try:
            yield device, log
        finally:
            device.close(release=True)
    finally:
        card.remove()
        pcscd.wait_for_card(present=False)


def test_fido2_client_registers_and_authenticates_over_nfc(running_pcscd: Pcscd) -> None:
    key = VirtualKey("fido21", finger=Finger.after(0.0))
    with key_in_reader(running_pcscd, key) as (device, _log):
        ClientPin(Ctap2(device)).set_pin(PIN)
        client = Fido2Client(device, DefaultClientDataCollector(ORIGIN), user_interaction=Technician())
        server = Fido2Server(RP, attestation="direct", verify_attestation=RootVerifier(root_der()))
        user = PublicKeyCredentialUserEntity(id=b"user-1", name="ada@example.com", display_name="Ada")
        options, state = server.register_begin(user, resident_key_requirement="required",
                                               user_verification="required")
        registration = client.make_credential(options.public_key)
        auth_data = server.register_complete(state, registration)
        assert auth_data.credential_data is not None
        assert auth_data.credential_data.aaguid == key.aaguid.bytes

        untrusting = Fido2Server(RP, attestation="direct", verify_attestation=RootVerifier(None))
        with pytest.raises(UntrustedAttestation):
            untrusting.register_complete(state, registration)

        request, auth_state = server.authenticate_begin([auth_data.credential_data],
                                                        user_verification="discouraged")
        assertion = client.get_assertion(request.public_key).get_response(0)
        proven = server.authenticate_complete(auth_state, [auth_data.credential_data], assertion)
        assert proven.credential_id == auth_data.credential_data.credential_id


def test_large_requests_chain_and_large_answers_use_get_response(running_pcscd: Pcscd) -> None:
    key = VirtualKey("fido21", finger=Finger.after(0.0))
    with key_in_reader(running_pcscd, key) as (device, log):
        client = Fido2Client(device, DefaultClientDataCollector(ORIGIN), user_interaction=Technician())
        user = {"id": b"user-2", "name": "bob@example.com", "displayName": "Bob"}
        options: dict[str, Any] = {
            "rp": {"id": "example.com", "name": "Example"}, "user": user, "challenge": os.urandom(32),
            "pubKeyCredParams": [{"type": "public-key", "alg": -7}], "attestation": "direct",
            "authenticatorSelection": {"userVerification": "discouraged"},
        }
        first = client.make_credential(options)
        assert any(sw[0] == 0x61 for sw in log.status_words), "an attestation longer than Le goes through 61xx"
        assert any(c[1] == 0xC0 for c in log.commands), "the rest is fetched with GET RESPONSE"

        registered_id = first.raw_id
        decoys = [{"type": "public-key", "id": os.urandom(64)} for _ in range(40)]
        exclude = [*decoys, {"type": "public-key", "id": registered_id}]
        log.commands.clear()
        with pytest.raises(ClientError) as excluded:
            client.make_credential({**options, "challenge": os.urandom(32), "excludeCredentials": exclude})
        assert any(c[0] == 0x90 for c in log.commands), "a request longer than 250 bytes is chained"
        assert isinstance(excluded.value.cause, CtapError)
        assert excluded.value.cause.code == CtapError.ERR.CREDENTIAL_EXCLUDED

        second = client.make_credential({**options, "challenge": os.urandom(32), "excludeCredentials": decoys})
        assert second.raw_id != registered_id


def test_extended_apdus(running_pcscd: Pcscd) -> None:
    key = VirtualKey("fido21", finger=Finger.after(0.0))
    with key_in_reader(running_pcscd, key) as (device, log):
        device.use_ext_apdu = True
        ctap = Ctap2(device)
        log.commands.clear()
        result = ctap.make_credential(
            os.urandom(32), {"id": "example.com", "name": "Example"},
            {"id": b"user-3", "name": "cy@example.com"}, [{"type": "public-key", "alg": -7}],
            exclude_list=[{"type": "public-key", "id": os.urandom(100)} for _ in range(8)],
        )
        assert result.fmt == "packed"
        assert any(len(c) > 261 and c[4] == 0 for c in log.commands), "sent as one extended APDU"


def test_keepalive_while_the_key_waits_for_a_touch(running_pcscd: Pcscd) -> None:
    key = VirtualKey("fido21", finger=Finger.after(1.0))
    with key_in_reader(running_pcscd, key) as (device, log):
        ctap = Ctap2(device)
        statuses: list[STATUS] = []
        started = time.monotonic()
        result = ctap.make_credential(
            os.urandom(32), {"id": "example.com", "name": "Example"},
            {"id": b"user-4", "name": "di@example.com"}, [{"type": "public-key", "alg": -7}],
            on_keepalive=statuses.append,
        )
        assert time.monotonic() - started >= 1.0
        assert result.auth_data.is_user_present()
        assert STATUS.UPNEEDED in statuses
        assert (0x91, 0x00) in log.status_words
        assert any(c[:2] == b"\x80\x11" for c in log.commands), "polled with NFCCTAP_GETRESPONSE"


def test_cancel_while_waiting_for_a_touch(running_pcscd: Pcscd) -> None:
    key = VirtualKey("fido21", finger=Finger.never(timeout=10.0))
    with key_in_reader(running_pcscd, key) as (device, _log):
        ctap = Ctap2(device)
        cancel = threading.Event()
        threading.Timer(0.4, cancel.set).start()
        started = time.monotonic()
        with pytest.raises(CtapError) as e:
            ctap.make_credential(
                os.urandom(32), {"id": "example.com", "name": "Example"},
                {"id": b"user-5", "name": "ed@example.com"}, [{"type": "public-key", "alg": -7}],
                event=cancel,
            )
        assert e.value.code == CtapError.ERR.KEEPALIVE_CANCEL
        assert time.monotonic() - started < 3.0
        assert ctap.get_info().aaguid == key.aaguid.bytes, "the key answers again after a cancel"


def test_u2f_key_over_nfc(running_pcscd: Pcscd) -> None:
    key = VirtualKey("u2f", finger=Finger.after(0.0))
    with key_in_reader(running_pcscd, key) as (device, _log):
        assert device.version == 1, "a U2F-only card has no CTAP2"
        ctap1 = Ctap1(device)
        app, client_param = os.urandom(32), os.urandom(32)
        registration = ctap1.register(client_param, app)
        registration.verify(app, client_param)
        signature = ctap1.authenticate(client_param, app, registration.key_handle)
        signature.verify(app, client_param, registration.public_key)


def test_status_words_for_bad_apdus(running_pcscd: Pcscd) -> None:
    key = VirtualKey("fido21")
    card = VpcdCard(key, port=running_pcscd.vpcd_port(), uid=bytes.fromhex("04A1B2C3D4E5F6"))
    card.insert()
    connection = PCSCReader(running_pcscd.reader()).createConnection()
    try:
        running_pcscd.wait_for_card()
        connection.connect()

        def sw(apdu: str) -> tuple[bytes, int]:
            data, sw1, sw2 = connection.transmit(list(bytes.fromhex(apdu)))
            return bytes(data), sw1 << 8 | sw2

        assert sw("FFCA000000") == (bytes.fromhex("04A1B2C3D4E5F6"), 0x9000)
        assert sw("80100000010400")[1] == 0x6985, "nothing works before SELECT"
        assert sw("00A4040008A0000006472F000200")[1] == 0x6A82
        assert sw("00A4040008A0000006472F000100") == (b"FIDO_2_0", 0x9000)
        assert sw("80FF000000")[1] == 0x6D00
        assert sw("A0100000010400")[1] == 0x6E00
        assert sw("80100000050400")[1] == 0x6700
        first, status = sw("80100000010400")
        assert status >> 8 == 0x61 and len(first) == 256, "getInfo is longer than Le=256"
        rest, final = sw(f"00C00000{status & 0xFF:02X}")
        assert final == 0x9000
        info = Info.from_dict(cbor.decode((first + rest)[1:]))
        assert info.aaguid == key.aaguid.bytes
    finally:
        connection.disconnect()
        connection.release()
        card.remove()
        running_pcscd.wait_for_card(present=False)


def test_key_pulled_out_during_a_command(running_pcscd: Pcscd) -> None:
    key = VirtualKey("fido21", faults=Faults(remove_during={"MAKE_CREDENTIAL"}))
    card = VpcdCard(key, port=running_pcscd.vpcd_port())
    card.insert()
    running_pcscd.wait_for_card()
    device = CtapPcscDevice(PCSCReader(running_pcscd.reader()).createConnection(), running_pcscd.reader())
    try:
        with pytest.raises(Exception):  # noqa: B017 — pyscard or fido2, whichever sees the card go first
            Ctap2(device).make_credential(
                os.urandom(32), {"id": "example.com", "name": "Example"},
                {"id": b"user-6", "name": "fi@example.com"}, [{"type": "public-key", "alg": -7}],
            )
        assert card.removed.wait(2.0)
        running_pcscd.wait_for_card(present=False)
    finally:
        with contextlib.suppress(Exception):
            device.close(release=True)
        card.remove()
