"""The daemon settles keys handed out by itself: `station run` as a real process against the Entra emulator,
with `[delegation] check_every_minutes` short. A key handed out through the control socket (as the dashboard
does) is marked active once the person registered a passkey of its model with the TAP, and the used TAP is
deleted; an unused TAP past its lifetime is marked expired, deleted, and named in the log with what to do;
no pass is in the control socket's answer, the log (at debug level), the audit trail or the store in clear;
the daemon stops cleanly. And the check itself, against the emulator and a SQLite or PostgreSQL store: a
pass that Entra ID refuses is logged and the next pass settles the key."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from daemon_harness import DaemonProcess, kill, start_daemon, write_config
from pg import pg_url
from test_delegated_handout import audit_text
from test_entra_emulator_passkeys import Graph
from test_entra_emulator_tap import sign_in, taps_path

from station.config import load_config
from station.enroll.escrow import PRIVATE_KEY_NAME, load_private_key, open_sealed
from station.entra import EntraClient
from station.errors import ControlError
from station.lifecycle.delegation_settings import DelegationSection
from station.lifecycle.handout_desk import HandoutDesk
from station.lifecycle.tracking_job import HandoutTracking
from station.store import open_store
from station.store.handouts import HandoutState, HandoutView, tap_context
from station_emulator.entra import EntraEmulator
from station_emulator.key.profiles import PROFILES

__all__ = ["pg_url"]

KEY_MODEL = str(PROFILES["yubikey5-5.7"].default_aaguid)
CHECK_SECONDS = 1.2


@pytest.fixture
def emu() -> Iterator[EntraEmulator]:
    with EntraEmulator(users=4, seed=43) as e:
        yield e


@pytest.fixture
def daemon(emu: EntraEmulator, tmp_path: Path) -> Iterator[DaemonProcess]:
    config = write_config(emu, tmp_path)
    text = config.read_text()
    assert "check_every_minutes = 15" in text and "tap_lifetime_minutes = 480" in text and "[station]\n" in text
    config.write_text(text.replace("[station]\n", '[station]\nlog_level = "debug"\n', 1)
                      .replace("check_every_minutes = 15", f"check_every_minutes = {CHECK_SECONDS / 60}")
                      .replace("tap_lifetime_minutes = 480", "tap_lifetime_minutes = 60")
                      .replace('# default_aaguid = ""', f'default_aaguid = "{KEY_MODEL}"'))
    d = start_daemon(config)
    try:
        yield d
    finally:
        kill(d)


def handouts(tmp_path: Path) -> list[HandoutView]:
    store = open_store(f"sqlite:///{tmp_path / 'station.db'}")
    try:
        return store.handouts.find()
    finally:
        store.close()


def wait_until(what: str, done: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"waited {timeout:g} s for {what}"
        time.sleep(0.1)


def the_pass(tmp_path: Path, upn: str) -> str:
    """The person's TAP, opened with the escrow private key as 'station handout letters' opens it."""
    key = load_private_key((tmp_path / PRIVATE_KEY_NAME).read_bytes())
    (h,) = [h for h in handouts(tmp_path) if h.upn == upn and h.state == "handed_out"]
    assert h.tap_sealed
    return open_sealed(key, h.tap_sealed, tap_context(h.id))


def test_the_daemon_marks_a_registered_key_active_and_an_unused_pass_expired(
        emu: EntraEmulator, daemon: DaemonProcess, tmp_path: Path) -> None:
    ann, bo = sorted(emu.tenant.users.values(), key=lambda u: u["userPrincipalName"])[:2]
    client = daemon.client()
    answer = client.command("handout", upn=ann["userPrincipalName"], key_serial="5150")
    handout = answer["handout"]
    assert handout["state"] == "handed_out" and handout["key_serial"] == "5150" and handout["aaguid"] == KEY_MODEL
    assert handout["tap_expires_at"] and "tap_sealed" not in handout
    with pytest.raises(ControlError, match="'upn' must be a string"):
        client.command("handout")
    with pytest.raises(ControlError, match="'prepare_key' must be true or false"):
        client.command("handout", upn=ann["userPrincipalName"], prepare_key="yes")
    assert handout["key_preparation"] is None, "no key is prepared unless asked ([delegation] prepare_key)"
    ann_pass = the_pass(tmp_path, ann["userPrincipalName"])
    assert ann_pass not in str(answer)

    assert sign_in(Graph(emu), ann["userPrincipalName"], ann_pass, KEY_MODEL).status_code == 201
    wait_until("the daemon to mark the key active",
               lambda: [h.state for h in handouts(tmp_path)] == ["active"])
    assert Graph(emu).call("GET", taps_path(ann["id"])).json()["value"] == [], "the used TAP is deleted"
    assert client.status()["delegated"] == {"handed_out": 0, "active": 1, "expired": 0}

    client.command("handout", upn=bo["userPrincipalName"])
    bo_pass = the_pass(tmp_path, bo["userPrincipalName"])
    time.sleep(2 * CHECK_SECONDS)
    assert [h.state for h in handouts(tmp_path)] == ["active", "handed_out"], "a live TAP is left waiting"
    emu.advance_clock(61 * 60)
    wait_until("the daemon to mark the unused pass expired",
               lambda: [h.state for h in handouts(tmp_path)] == ["active", "expired"])
    assert Graph(emu).call("GET", taps_path(bo["id"])).json()["value"] == [], "the expired TAP is deleted"
    wait_until("the warning in the log", lambda: "was not registered" in daemon.log())
    log = daemon.log()
    assert f"the key handed out to {bo['userPrincipalName']} was not registered: the TAP expired unused" in log
    assert f"'station handout --upn {bo['userPrincipalName']}'" in log
    assert f"the key handed out to {ann['userPrincipalName']} is registered" in log

    assert daemon.stop() == 0
    log = daemon.log()
    assert "station stopped" in log and "Traceback" not in log
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("station.db*"))
    assert "handout_activated" in audit_text(tmp_path) and "handout_expired" in audit_text(tmp_path)
    assert "<7>" in log, "the daemon logged at debug level"
    for tap in (ann_pass, bo_pass):
        assert tap not in log and tap.encode() not in stored and tap not in audit_text(tmp_path)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_check_that_fails_is_logged_and_the_next_one_settles_the_key(
        emu: EntraEmulator, tmp_path: Path, backend: str, request: pytest.FixtureRequest,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="station.lifecycle.tracking_job")
    cfg = load_config(write_config(emu, tmp_path))
    if backend == "postgresql":
        cfg = cfg.model_copy(update={"store": cfg.store.model_copy(update={"url": request.getfixturevalue("pg_url")})})
    ann = sorted(emu.tenant.users.values(), key=lambda u: u["userPrincipalName"])[0]
    store = open_store(cfg.store_url, cfg.station.id)
    job = HandoutTracking(DelegationSection(check_every_minutes=0.01))
    try:
        with EntraClient.from_config(cfg) as client:
            desk = HandoutDesk(store, client, cfg.delegation, cfg.enrolment.escrow_public_key, cfg.station.id)
            handout = desk.hand_out(ann["userPrincipalName"], aaguid=KEY_MODEL)
            assert handout.upn == ann["userPrincipalName"] and handout.station_id == cfg.station.id
            key = load_private_key((tmp_path / PRIVATE_KEY_NAME).read_bytes())
            tap = open_sealed(key, store.handouts.get(handout.id).tap_sealed or "", tap_context(handout.id))
            assert sign_in(Graph(emu), ann["userPrincipalName"], tap, KEY_MODEL).status_code == 201
            emu.faults.inject(403, count=1, path="fido2Methods", method="GET")
            job.start(store, client)
            wait_until("the key settled by the pass after the refused one",
                       lambda: store.handouts.get(handout.id).state == HandoutState.ACTIVE)
            job.stop()
    finally:
        job.stop()
        store.close()
    logged = [r.getMessage() for r in caplog.records if r.name == "station.lifecycle.tracking_job"]
    assert any(m.startswith("checking the keys handed out failed:") and "tried again in" in m for m in logged)
    assert any(f"the key handed out to {ann['userPrincipalName']} is registered" in m for m in logged)
    assert Graph(emu).call("GET", taps_path(ann["id"])).json()["value"] == [], "the used TAP is deleted"
    assert all(tap not in m for m in logged)
