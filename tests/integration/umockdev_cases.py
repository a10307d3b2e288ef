"""USB path cases that need a umockdev test bed; test_usb_umockdev.py runs this module under umockdev-wrapper.

Each case builds its own ``HidrawTestbed`` with virtual keys and keyboards as hidraw devices, and
drives the real pyudev monitor, ``UsbWatcher`` and fido2's Linux backend against it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import fido2.hid
import pytest
import pyudev
from fido2.attestation import AttestationVerifier
from fido2.client import DefaultClientDataCollector, Fido2Client
from fido2.server import Fido2Server
from fido2.webauthn import (
    AttestationConveyancePreference,
    PublicKeyCredentialRpEntity,
    PublicKeyCredentialUserEntity,
)
from realstack import require
from support.waiting import Collected
from umockdev_udev_rules import Outcome, evaluate, parse_rules

from station.hid.candidate import KeyCandidate
from station.hid.rdesc import is_fido
from station.hid.usb import UsbWatcher
from station_emulator.key import Finger, VirtualKey
from station_emulator.key.attestation import attestation_root_der
from station_emulator.key.umockdev_hid import (
    FIDO_REPORT_DESCRIPTOR,
    KEYBOARD_REPORT_DESCRIPTOR,
    HidIdentity,
    HidrawTestbed,
)

RULES = Path(__file__).resolve().parents[2] / "udev" / "70-station-fido.rules"
ORIGIN = "https://login.microsoft.com"
RP_ID = "login.microsoft.com"


class Recorder(Collected[tuple[str, Any, float]]):
    """Collects watcher callbacks, with their arrival times, and waits for them."""

    def attached(self, candidate: KeyCandidate) -> None:
        self.add(("attached", candidate, time.monotonic()))

    def removed(self, fingerprint: str) -> None:
        self.add(("removed", fingerprint, time.monotonic()))

    @property
    def events(self) -> list[tuple[str, Any, float]]:
        return self.items

    def wait_for(self, kind: str, timeout: float) -> tuple[str, Any, float]:  # type: ignore[override]
        return super().wait_for(lambda event: event[0] == kind, timeout, f"{kind} event", take=True)

    def of_kind(self, kind: str) -> list[Any]:
        return [payload for _k, payload, _at in self.matching(lambda event: event[0] == kind)]


@pytest.fixture
def testbed() -> Iterator[HidrawTestbed]:
    with HidrawTestbed() as tb:
        yield tb


@pytest.fixture
def watch() -> Iterator[Callable[[], tuple[UsbWatcher, Recorder]]]:
    started: list[UsbWatcher] = []

    def start() -> tuple[UsbWatcher, Recorder]:
        watcher, recorder = UsbWatcher(), Recorder()
        watcher.start(recorder.attached, recorder.removed)
        started.append(watcher)
        return watcher, recorder

    yield start
    for watcher in started:
        watcher.stop()


def _key() -> VirtualKey:
    return VirtualKey(profile="fido21", finger=Finger.after(0.1))


def test_key_present_at_start_is_picked_up(testbed: HidrawTestbed, watch: Any) -> None:
    testbed.add_fido_key(_key(), port="1-1.2")
    watcher, recorder = watch()
    _kind, candidate, _at = recorder.wait_for("attached", 0.0)
    assert (candidate.fingerprint, candidate.transport, candidate.slot) == ("usb-1-1.2", "usb", "USB 1-1.2")
    assert candidate.name == "Station Virtual FIDO Key"
    assert watcher.status() == "USB: 1 key"


def test_a_hostile_usb_product_string_is_cleaned_before_anyone_shows_it(testbed: HidrawTestbed, watch: Any) -> None:
    maker, product = "[bold]Evil[/]\x1b]52;c;SGFja2Vk\x07", "Key\u202e\x1b[2J\x9b" + "X" * 300
    testbed.add_fido_key(_key(), port="1-1.4",
                         identity=HidIdentity(0x1050, 0x0407, maker, product, "", FIDO_REPORT_DESCRIPTOR))
    _watcher, recorder = watch()
    candidate = recorder.wait_for("attached", 2.0)[1]
    assert candidate.name == ("[bold]Evil[/]]52;c;SGFja2Vk Key[2J" + "X" * 300)[:128]


def test_hotplug_attach_with_port_identity_and_removal_within_a_second(testbed: HidrawTestbed, watch: Any) -> None:
    _watcher, recorder = watch()
    handle = testbed.add_fido_key(_key(), port="3-2.4.1")
    plugged = time.monotonic()  # the "add" uevent goes out at the end of add_fido_key, after the sysfs set-up
    _kind, candidate, attached_at = recorder.wait_for("attached", 2.0)
    assert candidate.fingerprint == "usb-3-2.4.1"
    assert attached_at - plugged < 1.0
    unplugged = time.monotonic()
    testbed.remove(handle)
    _kind, fingerprint, removed_at = recorder.wait_for("removed", 1.0)
    assert fingerprint == "usb-3-2.4.1"
    assert removed_at - unplugged < 1.0
    # Same port again: same identity, announced again.
    testbed.add_fido_key(_key(), port="3-2.4.1")
    assert recorder.wait_for("attached", 2.0)[1].fingerprint == "usb-3-2.4.1"


def test_fido2_linux_backend_registers_and_authenticates(testbed: HidrawTestbed, watch: Any) -> None:
    testbed.add_keyboard(port="1-3")
    handle = testbed.add_fido_key(_key(), port="1-4")
    _watcher, recorder = watch()
    candidate = recorder.wait_for("attached", 0.0)[1]
    assert [d.descriptor.path for d in fido2.hid.list_devices()] == [handle.devnode]

    device = candidate.open()
    try:
        assert isinstance(device, fido2.hid.CtapHidDevice)
        assert device.descriptor.path == handle.devnode
        assert (device.descriptor.vid, device.descriptor.pid) == (0x1050, 0x0407)
        client = Fido2Client(device, client_data_collector=DefaultClientDataCollector(ORIGIN))
        server = _server()
        options, state = server.register_begin(
            PublicKeyCredentialUserEntity(id=b"user-1", name="ada@example.org", display_name="Ada"),
            user_verification="discouraged",
        )
        registration = client.make_credential(options.public_key)
        auth_data = server.register_complete(state, registration)
        assert auth_data.credential_data is not None

        request, state = server.authenticate_begin([auth_data.credential_data], user_verification="discouraged")
        assertion = client.get_assertion(request.public_key).get_response(0)
        assert server.authenticate_complete(state, [auth_data.credential_data], assertion).credential_id == (
            auth_data.credential_data.credential_id
        )
    finally:
        device.close()


def test_key_unplugged_mid_command_fails_the_call(testbed: HidrawTestbed, watch: Any) -> None:
    key = VirtualKey(profile="fido21", finger=Finger.never(timeout=5.0))
    handle = testbed.add_fido_key(key, port="1-5")
    _watcher, recorder = watch()
    device = recorder.wait_for("attached", 0.0)[1].open()
    client = Fido2Client(device, client_data_collector=DefaultClientDataCollector(ORIGIN))
    failure: list[BaseException] = []

    options, _state = _server().register_begin(
        PublicKeyCredentialUserEntity(id=b"user-2", name="bo@example.org", display_name="Bo"),
        user_verification="discouraged",
    )

    def register() -> None:
        try:
            client.make_credential(options.public_key)
        except BaseException as exc:
            failure.append(exc)

    worker = threading.Thread(target=register)
    worker.start()
    time.sleep(0.4)  # the key is waiting for a touch that never comes
    testbed.remove(handle)
    worker.join(timeout=3.0)
    device.close()
    assert not worker.is_alive()
    assert failure, "make_credential returned although the key was pulled out"
    assert recorder.wait_for("removed", 1.0)[1] == "usb-1-5"


def test_keyboard_ignored_and_fido_recognised_by_report_descriptor(testbed: HidrawTestbed, watch: Any) -> None:
    _watcher, recorder = watch()
    testbed.add_keyboard(port="1-6")
    testbed.add_fido_key(_key(), port="1-7", udev_tagged=False)
    candidate = recorder.wait_for("attached", 2.0)[1]
    assert candidate.fingerprint == "usb-1-7"
    time.sleep(0.4)
    assert recorder.of_kind("attached") == []


def test_bounce_within_debounce_window_is_not_announced(testbed: HidrawTestbed, watch: Any) -> None:
    _watcher, recorder = watch()
    handle = testbed.add_fido_key(_key(), port="1-8")
    testbed.remove(handle)
    time.sleep(0.5)
    assert recorder.events == []


def test_permission_denied_gives_one_clear_message(
    testbed: HidrawTestbed, watch: Any, caplog: pytest.LogCaptureFixture
) -> None:
    require(_dac_override_dropped(), "needs a process that file permissions apply to (run unprivileged)")
    caplog.set_level(logging.WARNING, logger="station.hid.usb")
    watcher, recorder = watch()
    handle = testbed.add_fido_key(_key(), port="2-1", mode=0o000)
    time.sleep(0.4)
    testbed.uevent(handle, "change")
    testbed.uevent(handle, "change")
    time.sleep(0.4)
    testbed.remove(handle)
    handle = testbed.add_fido_key(_key(), port="2-1", mode=0o000)
    time.sleep(0.4)
    assert "not accessible" in watcher.status() and "70-station-fido.rules" in watcher.status()

    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "USB 2-1" in warnings[0] and "permission denied" in warnings[0]
    assert "udev/70-station-fido.rules" in warnings[0] and "/etc/udev/rules.d/" in warnings[0]
    assert "'station' group" in warnings[0]
    assert recorder.of_kind("attached") == []

    testbed.remove(handle)
    time.sleep(0.2)
    assert watcher.status() == "USB: 0 keys"


def test_failing_listener_does_not_stop_the_watcher(testbed: HidrawTestbed) -> None:
    recorder = Recorder()
    calls: list[str] = []

    def flaky(candidate: KeyCandidate) -> None:
        calls.append(candidate.fingerprint)
        if len(calls) == 1:
            raise RuntimeError("listener bug")
        recorder.attached(candidate)

    watcher = UsbWatcher()
    watcher.start(flaky, recorder.removed)
    try:
        testbed.add_fido_key(_key(), port="4-1")
        testbed.add_fido_key(_key(), port="4-2")
        recorder.wait_for("attached", 2.0)
        assert sorted(calls) == ["usb-4-1", "usb-4-2"]
        assert watcher.status() == "USB: 2 keys"
    finally:
        watcher.stop()


def test_stop_is_prompt(watch: Any, testbed: HidrawTestbed) -> None:
    watcher, _recorder = watch()
    began = time.monotonic()
    watcher.stop()
    assert time.monotonic() - began < 0.5
    assert watcher.status() == "USB: stopped"


def test_udev_rule_groups_fido_keys_and_leaves_keyboards(testbed: HidrawTestbed) -> None:
    rules = parse_rules(RULES)
    testbed.add_fido_key(_key(), port="1-1")
    testbed.add_fido_key(_key(), port="1-2", udev_tagged=False)
    testbed.add_keyboard(port="1-3")
    testbed.add_keyboard(port="1-4", identity=_yubico_otp_keyboard())
    devices = {_port(d): d for d in pyudev.Context().list_devices(subsystem="hidraw")}
    with_fido_id = frozenset({"/usr/lib/udev/fido_id"})
    programs = {"/usr/lib/udev/fido_id": _fido_id}

    def run(port: str, **kw: Any) -> Outcome:
        return evaluate(rules, devices[port], existing_files=with_fido_id, programs=programs, **kw)

    tagged = run("1-1")
    assert (tagged.group, tagged.mode, tagged.programs_run) == ("station", "0660", [])
    untagged = run("1-2")
    assert (untagged.group, untagged.mode) == ("station", "0660")
    assert untagged.programs_run == ["/usr/lib/udev/fido_id"]
    for keyboard in ("1-3", "1-4"):
        assert (run(keyboard).group, run(keyboard).mode) == (None, None)
    assert run("1-1", action="remove").group is None


def test_udev_rule_fallback_without_fido_id(testbed: HidrawTestbed) -> None:
    rules = parse_rules(RULES)
    testbed.add_fido_key(_key(), port="1-1", udev_tagged=False)
    testbed.add_keyboard(port="1-3")
    devices = {_port(d): d for d in pyudev.Context().list_devices(subsystem="hidraw")}
    key = evaluate(rules, devices["1-1"])
    assert (key.group, key.mode, key.programs_run) == ("station", "0660", [])
    keyboard = evaluate(rules, devices["1-3"])
    assert (keyboard.group, keyboard.mode) == (None, None)


def _server() -> Fido2Server:
    return Fido2Server(
        PublicKeyCredentialRpEntity(name="Station test", id=RP_ID),
        attestation=AttestationConveyancePreference.DIRECT,
        verify_attestation=_EmulatorRoot(),
    )


class _EmulatorRoot(AttestationVerifier):
    def ca_lookup(self, attestation_result: Any, auth_data: Any) -> bytes:
        return attestation_root_der()


def _fido_id(device: pyudev.Device) -> dict[str, str]:
    """Stands in for systemd's fido_id: FIDO by the HID report descriptor (it prints nothing otherwise)."""
    hid = device.find_parent("hid")
    descriptor = bytes(hid.attributes.get("report_descriptor") or b"")
    return {"ID_FIDO_TOKEN": "1", "ID_SECURITY_TOKEN": "1"} if is_fido(descriptor) else {}


def _yubico_otp_keyboard() -> HidIdentity:
    return HidIdentity(0x1050, 0x0407, "Yubico", "YubiKey OTP+FIDO+CCID", "", KEYBOARD_REPORT_DESCRIPTOR)


def _port(device: pyudev.Device) -> str:
    return device.find_parent("usb", "usb_device").sys_name


def _dac_override_dropped() -> bool:
    with open("/proc/self/status") as status:
        caps = next(line for line in status if line.startswith("CapEff:"))
    return not int(caps.split()[1], 16) & (1 << 1)
