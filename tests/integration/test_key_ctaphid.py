"""The virtual key through its CTAPHID face, judged by python-fido2's own client, server and HID device.

Registration and authentication go through ``Fido2Client`` → ``CtapHidDevice`` → CTAPHID packets → the key;
``Fido2Server`` checks the attestation against the exported root. Packet-level tests drive the responder
directly: channels, busy, cancel, keepalive, errors. Faults: latency, chosen errors, malformed CBOR, removal.
"""

from __future__ import annotations

import os
import struct
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from fido2.attestation import AttestationVerifier, UntrustedAttestation
from fido2.client import ClientError, DefaultClientDataCollector, Fido2Client, UserInteraction
from fido2.ctap import STATUS, CtapError
from fido2.ctap2 import ClientPin, Ctap2
from fido2.ctap2.extensions import CredProtectExtension, HmacSecretExtension, MinPinLengthExtension
from fido2.hid import CTAPHID, CtapHidDevice
from fido2.server import Fido2Server
from fido2.utils import websafe_decode
from fido2.webauthn import (
    AttestationConveyancePreference,
    PublicKeyCredentialRpEntity,
    PublicKeyCredentialUserEntity,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from station_emulator.key import Faults, Finger, VirtualKey, attestation_root_pem
from station_emulator.key.attestation import ID_FIDO_GEN_CE_AAGUID
from station_emulator.key.ctaphid import (
    BROADCAST_CID,
    TRANSACTION_TIMEOUT,
    CtapHidResponder,
    HidError,
    open_virtual_device,
)

ERR = CtapError.ERR
RP = PublicKeyCredentialRpEntity(name="Contoso", id="login.microsoft.com")
ORIGIN = "https://login.microsoft.com"
ALICE = PublicKeyCredentialUserEntity(name="alice@contoso.com", id=b"alice-object-id", display_name="Alice")
PIN = "24681357"


class Technician(UserInteraction):
    """Answers the client's prompts: the PIN, and counts touch prompts (sent on keepalive UPNEEDED)."""

    def __init__(self, pin: str) -> None:
        self.pin = pin
        self.touch_prompts = 0

    def prompt_up(self) -> None:
        self.touch_prompts += 1

    def request_pin(self, permissions: ClientPin.PERMISSION, rp_id: str | None) -> str | None:
        return self.pin

    def request_uv(self, permissions: ClientPin.PERMISSION, rp_id: str | None) -> bool:
        return True


class PinnedRoot(AttestationVerifier):
    def __init__(self, root_pem: bytes | None) -> None:
        super().__init__()
        self.root = x509.load_pem_x509_certificate(root_pem).public_bytes(Encoding.DER) if root_pem else None

    def ca_lookup(self, attestation_result: Any, auth_data: Any) -> bytes | None:
        return self.root


@pytest.fixture
def plug() -> Iterator[Callable[[VirtualKey], CtapHidDevice]]:
    devices: list[CtapHidDevice] = []

    def _plug(key: VirtualKey) -> CtapHidDevice:
        devices.append(open_virtual_device(key))
        return devices[-1]

    yield _plug
    for device in devices:
        device.close()


def client_for(device: CtapHidDevice, technician: Technician) -> Fido2Client:
    extensions = [CredProtectExtension(), HmacSecretExtension(allow_hmac_secret=True), MinPinLengthExtension()]
    return Fido2Client(device, DefaultClientDataCollector(ORIGIN), technician, extensions)


def server_trusting(root_pem: bytes | None) -> Fido2Server:
    return Fido2Server(RP, attestation=AttestationConveyancePreference.DIRECT,
                       verify_attestation=PinnedRoot(root_pem))


def register(client: Fido2Client, server: Fido2Server, **extensions: Any) -> tuple[Any, Any, Any]:
    options, state = server.register_begin(
        ALICE, resident_key_requirement=ResidentKeyRequirement.REQUIRED,
        user_verification=UserVerificationRequirement.REQUIRED, extensions=extensions or None,
    )
    response = client.make_credential(options.public_key)
    return response, state, options


def test_register_and_authenticate_with_pin(plug: Callable[[VirtualKey], CtapHidDevice]) -> None:
    key = VirtualKey(finger=Finger.after(0.15))
    ClientPin(Ctap2(plug(key))).set_pin(PIN)
    technician = Technician(PIN)
    client = client_for(plug(key), technician)
    server = server_trusting(attestation_root_pem())

    response, state, _ = register(client, server, credentialProtectionPolicy="userVerificationRequired",
                                  hmacCreateSecret=True)
    auth_data = server.register_complete(state, response)
    assert auth_data.is_user_verified()
    assert auth_data.credential_data is not None
    assert auth_data.credential_data.aaguid == key.aaguid.bytes
    assert response.client_extension_results.get("hmacCreateSecret") is True
    assert technician.touch_prompts >= 1
    leaf = x509.load_der_x509_certificate(response.response.attestation_object.att_stmt["x5c"][0])
    aaguid_ext = leaf.extensions.get_extension_for_oid(ID_FIDO_GEN_CE_AAGUID).value
    assert isinstance(aaguid_ext, x509.UnrecognizedExtension)
    assert aaguid_ext.value == b"\x04\x10" + key.aaguid.bytes

    salt = os.urandom(32)
    outputs = []
    for _ in range(2):
        request, auth_state = server.authenticate_begin([auth_data.credential_data],
                                                        user_verification=UserVerificationRequirement.REQUIRED,
                                                        extensions={"hmacGetSecret": {"salt1": salt}})
        assertion = client.get_assertion(request.public_key).get_response(0)
        assert server.authenticate_complete(auth_state, [auth_data.credential_data], assertion) \
            == auth_data.credential_data
        outputs.append(assertion.client_extension_results["hmacGetSecret"]["output1"])
    assert outputs[0] == outputs[1] and len(websafe_decode(outputs[0])) == 32


def test_server_rejects_attestation_without_the_root(plug: Callable[[VirtualKey], CtapHidDevice]) -> None:
    key = VirtualKey()
    ClientPin(Ctap2(plug(key))).set_pin(PIN)
    client = client_for(plug(key), Technician(PIN))
    response, state, _ = register(client, server_trusting(attestation_root_pem()))
    server_trusting(attestation_root_pem()).register_complete(state, response)
    with pytest.raises(UntrustedAttestation):
        server_trusting(None).register_complete(state, response)
    with pytest.raises(UntrustedAttestation):
        server_trusting(foreign_root_pem()).register_complete(state, response)


def test_second_registration_is_excluded(plug: Callable[[VirtualKey], CtapHidDevice]) -> None:
    key = VirtualKey()
    ClientPin(Ctap2(plug(key))).set_pin(PIN)
    client = client_for(plug(key), Technician(PIN))
    server = server_trusting(attestation_root_pem())
    response, state, _ = register(client, server)
    auth_data = server.register_complete(state, response)
    assert auth_data.credential_data is not None
    options, _ = server.register_begin(ALICE, [auth_data.credential_data],
                                       resident_key_requirement=ResidentKeyRequirement.REQUIRED)
    with pytest.raises(ClientError) as e:
        client.make_credential(options.public_key)
    assert isinstance(e.value.cause, CtapError) and e.value.cause.code == ERR.CREDENTIAL_EXCLUDED


def foreign_root_pem() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Someone Else's Root")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(x509.load_pem_x509_certificate(attestation_root_pem())
                                               .not_valid_before_utc)
            .not_valid_after(x509.load_pem_x509_certificate(attestation_root_pem()).not_valid_after_utc)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(Encoding.PEM)


def make_credential(device: CtapHidDevice, **kw: Any) -> Any:
    return Ctap2(device).make_credential(os.urandom(32), {"id": "example.com"}, {"id": b"u"},
                                         [{"type": "public-key", "alg": -7}], **kw)


def test_touch_never_times_out_with_keepalives(plug: Callable[[VirtualKey], CtapHidDevice]) -> None:
    key = VirtualKey(finger=Finger.never(timeout=0.5))
    statuses: list[int] = []
    started = time.monotonic()
    with pytest.raises(CtapError) as e:
        make_credential(plug(key), on_keepalive=statuses.append)
    assert e.value.code == ERR.USER_ACTION_TIMEOUT
    assert statuses == [STATUS.UPNEEDED]
    assert 0.5 <= time.monotonic() - started < 3


def after_wait(finger: Finger, action: Callable[[], None]) -> None:
    """Act like a person: once the key is waiting for a touch."""
    if finger.waiting.wait(5):
        action()


def test_cancel_while_waiting_for_touch(plug: Callable[[VirtualKey], CtapHidDevice]) -> None:
    finger = Finger.never(timeout=20)
    key = VirtualKey(finger=finger)
    device = plug(key)
    cancel = threading.Event()
    threading.Thread(target=after_wait, args=(finger, cancel.set), daemon=True).start()
    started = time.monotonic()
    with pytest.raises(CtapError) as e:
        make_credential(device, event=cancel)
    assert e.value.code == ERR.KEEPALIVE_CANCEL
    assert time.monotonic() - started < 3
    assert len(key.state.residents) == 0
    Ctap2(device).get_info()


def test_manual_finger_releases_the_waiting_request(plug: Callable[[VirtualKey], CtapHidDevice]) -> None:
    finger = Finger.manual(timeout=10)
    key = VirtualKey(finger=finger)
    threading.Thread(target=after_wait, args=(finger, finger.touch), daemon=True).start()
    made = make_credential(plug(key), options={"rk": True})
    assert made.auth_data.is_user_present()


def test_deny_finger_refuses(plug: Callable[[VirtualKey], CtapHidDevice]) -> None:
    with pytest.raises(CtapError) as e:
        make_credential(plug(VirtualKey(finger=Finger.deny())))
    assert e.value.code == ERR.OPERATION_DENIED


class RawHost:
    """Packet-level host side of a responder."""

    def __init__(self, responder: CtapHidResponder) -> None:
        self.responder = responder

    def send(self, cid: int, cmd: int, data: bytes = b"") -> None:
        header = struct.pack(">IBH", cid, 0x80 | cmd, len(data))
        self.responder.write_packet((header + data[:57]).ljust(64, b"\0"))
        rest, seq = data[57:], 0
        while rest:
            self.responder.write_packet((struct.pack(">IB", cid, seq) + rest[:59]).ljust(64, b"\0"))
            rest, seq = rest[59:], seq + 1

    def receive(self, timeout: float = 2.0) -> tuple[int, int, bytes]:
        """The next whole message: channel, command, payload."""
        packet = self.responder.read_packet(timeout)
        assert packet is not None, "no answer from the key"
        cid, cmd, length = struct.unpack_from(">IBH", packet)
        data = packet[7:]
        while len(data) < length:
            more = self.responder.read_packet(timeout)
            assert more is not None
            data += more[5:]
        return cid, cmd & 0x7F, data[:length]

    def init(self) -> int:
        nonce = os.urandom(8)
        self.send(BROADCAST_CID, CTAPHID.INIT, nonce)
        cid, cmd, data = self.receive()
        assert (cid, cmd, data[:8]) == (BROADCAST_CID, CTAPHID.INIT, nonce)
        return int(struct.unpack_from(">I", data, 8)[0])


@pytest.fixture
def host() -> Iterator[RawHost]:
    responder = CtapHidResponder(VirtualKey(finger=Finger.never(timeout=0.6)))
    yield RawHost(responder)
    responder.close()


def test_init_allocates_channels_and_ping_echoes_long_messages(host: RawHost) -> None:
    first, second = host.init(), host.init()
    assert first != second and BROADCAST_CID not in (first, second)
    payload = os.urandom(300)
    host.send(second, CTAPHID.PING, payload)
    assert host.receive() == (second, CTAPHID.PING, payload)
    host.send(first, CTAPHID.WINK)
    assert host.receive() == (first, CTAPHID.WINK, b"")
    assert host.responder.key.wink_count == 1


def test_other_channel_is_busy_while_a_command_waits_for_touch(host: RawHost) -> None:
    first, second = host.init(), host.init()
    request = bytes([Ctap2.CMD.SELECTION])
    host.send(first, CTAPHID.CBOR, request)
    cid, cmd, data = host.receive()
    assert (cid, cmd, data) == (first, CTAPHID.KEEPALIVE, bytes([STATUS.UPNEEDED]))
    host.send(second, CTAPHID.CBOR, bytes([Ctap2.CMD.GET_INFO]))
    messages = [host.receive() for _ in range(3)]
    assert (second, CTAPHID.ERROR, bytes([HidError.CHANNEL_BUSY])) in messages
    keepalives = 0
    while True:
        cid, cmd, data = host.receive()
        if cmd != CTAPHID.KEEPALIVE:
            break
        keepalives += 1
    assert (cid, cmd, data) == (first, CTAPHID.CBOR, bytes([ERR.USER_ACTION_TIMEOUT]))
    assert keepalives >= 2


def test_cancel_packet_ends_the_command_with_keepalive_cancel(host: RawHost) -> None:
    cid = host.init()
    host.send(cid, CTAPHID.CBOR, bytes([Ctap2.CMD.SELECTION]))
    assert host.receive()[1] == CTAPHID.KEEPALIVE
    host.send(cid, CTAPHID.CANCEL)
    while (message := host.receive())[1] == CTAPHID.KEEPALIVE:
        pass
    assert message == (cid, CTAPHID.CBOR, bytes([ERR.KEEPALIVE_CANCEL]))


def test_framing_errors(host: RawHost) -> None:
    cid = host.init()
    host.send(0x12345678 if cid != 0x12345678 else 0x87654321, CTAPHID.PING, b"x")
    assert host.receive()[1:] == (CTAPHID.ERROR, bytes([HidError.INVALID_CHANNEL]))
    host.send(cid, 0x2A, b"")
    assert host.receive() == (cid, CTAPHID.ERROR, bytes([HidError.INVALID_CMD]))
    host.responder.write_packet((struct.pack(">IBH", cid, 0x80 | CTAPHID.PING, 100) + b"a" * 57).ljust(64, b"\0"))
    host.responder.write_packet(struct.pack(">IB", cid, 5).ljust(64, b"\0"))
    assert host.receive() == (cid, CTAPHID.ERROR, bytes([HidError.INVALID_SEQ]))


def test_stalled_message_times_out_and_frees_the_device(host: RawHost) -> None:
    first, second = host.init(), host.init()
    host.responder.write_packet((struct.pack(">IBH", first, 0x80 | CTAPHID.PING, 100) + b"a" * 57).ljust(64, b"\0"))
    host.send(second, CTAPHID.PING, b"hello")
    assert host.receive() == (second, CTAPHID.ERROR, bytes([HidError.CHANNEL_BUSY]))
    time.sleep(TRANSACTION_TIMEOUT + 0.1)
    host.send(second, CTAPHID.PING, b"hello")
    assert host.receive() == (first, CTAPHID.ERROR, bytes([HidError.MSG_TIMEOUT]))
    assert host.receive() == (second, CTAPHID.PING, b"hello")


def test_injected_latency_sends_processing_keepalives(plug: Callable[[VirtualKey], CtapHidDevice]) -> None:
    key = VirtualKey(faults=Faults(latency={"GET_INFO": 0.35}))
    device = plug(key)
    statuses: list[int] = []
    started = time.monotonic()
    device.call(CTAPHID.CBOR, bytes([Ctap2.CMD.GET_INFO]), on_keepalive=statuses.append)
    assert time.monotonic() - started >= 0.35
    assert statuses == [STATUS.PROCESSING]


def test_injected_error_and_malformed_answer(plug: Callable[[VirtualKey], CtapHidDevice]) -> None:
    key = VirtualKey(faults=Faults(errors={Ctap2.CMD.MAKE_CREDENTIAL: ERR.KEY_STORE_FULL},
                                   malformed={"client_pin"}))
    device = plug(key)
    with pytest.raises(CtapError) as e:
        make_credential(device)
    assert e.value.code == ERR.KEY_STORE_FULL
    with pytest.raises(Exception) as failure:
        ClientPin(Ctap2(device)).get_pin_retries()
    assert not isinstance(failure.value, CtapError)


def test_removal_during_a_command(plug: Callable[[VirtualKey], CtapHidDevice]) -> None:
    key = VirtualKey(faults=Faults(remove_during={"MAKE_CREDENTIAL"}))
    device = plug(key)
    with pytest.raises(OSError):
        make_credential(device, options={"rk": True})
    assert key.removed.is_set()
    assert len(key.state.residents) == 1
    with pytest.raises(OSError):
        Ctap2(device)

    key.faults = Faults()
    key.power_cycle()
    assert Ctap2(plug(key)).get_info().remaining_disc_creds == 24
