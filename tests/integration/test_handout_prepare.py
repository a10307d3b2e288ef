"""A handed-out key prepared at the station: `station handout --prepare-key` against the Entra emulator over
HTTPS, with the station's engine, a real SQLite store, a real escrow key pair and virtual keys. The next key
inserted is reset (a used one, on the re-insertion asked for) and given a random PIN, sealed on the hand-out
before the key is told; the letter shows that PIN, which the key accepts; the person registers with the TAP;
a key that fits no waiting hand-out is refused; a station stopped between sealing and setting the PIN leaves a
hand-out the next insertion prepares afresh. The PIN is nowhere in clear: not in the store, the logs, the
command output, the events or the audit trail."""

from __future__ import annotations

import csv
import html
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from enrol_harness import Station, build_station
from fido2.ctap import CtapError
from fido2.ctap2 import ClientPin, Ctap2
from support.waiting import wait_idle
from test_delegated_handout import TRANSCRIPT, audit_text, run, stored_bytes, transcript
from test_enrol_failures import with_pin
from test_entra_emulator_passkeys import Graph
from test_entra_emulator_tap import sign_in
from test_queue_resolve import write_config

from station.enroll.escrow import generate_keypair, handout_pin_context, load_private_key, open_sealed
from station.events import EnrolmentDone, KeyPrepared, KeyRejected
from station.store.handouts import HandoutState
from station_emulator.entra import EntraEmulator
from station_emulator.key import Finger, VirtualKey
from station_emulator.key.ctaphid import open_virtual_device
from station_emulator.key.profiles import PROFILES

STATION = "desk-9"  # the station id write_config gives the command line
MODEL = "yubikey5-5.7"
AAGUID = str(PROFILES[MODEL].default_aaguid)
OLD_PIN = "90817263"


@pytest.fixture
def emu() -> Iterator[EntraEmulator]:
    with EntraEmulator(users=4, seed=77) as e:
        yield e


@pytest.fixture
def config(emu: EntraEmulator, tmp_path: Path) -> str:
    """The command line's configuration: this station's id, store and escrow key (as the harness's station)."""
    TRANSCRIPT.clear()
    public, _ = generate_keypair(tmp_path / f"escrow-{STATION}")
    path = Path(write_config(emu, tmp_path))
    path.write_text(path.read_text() + f'[enrolment]\nescrow_public_key = "{public}"\n'
                                       "[delegation]\ntap_lifetime_minutes = 60\n")
    return str(path)


@pytest.fixture
def logs() -> Iterator[list[str]]:
    """Every record the station logs, at debug level (the command line replaces the root logger's handlers)."""
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    logger, handler = logging.getLogger("station"), Keep(logging.DEBUG)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield lines
    logger.removeHandler(handler)
    logger.setLevel(level)


@pytest.fixture
def stations(emu: EntraEmulator, tmp_path: Path) -> Iterator[list[Station]]:
    made: list[Station] = []
    yield made
    for s in made:
        s.close()


def station(made: list[Station], emu: EntraEmulator, tmp_path: Path, **kw: Any) -> Station:
    s = build_station(emu, tmp_path, station_id=STATION, prefetch=0, used_key="reset", **kw)
    made.append(s)
    return s


def letters(capsys: pytest.CaptureFixture[str], config: str, tmp_path: Path) -> tuple[list[dict[str, str]], str]:
    out = tmp_path / "letters.csv"
    code, _, err = run(capsys, config, "handout", "letters", "--private-key",
                       str(tmp_path / f"escrow-{STATION}" / "escrow-private.pem"), "--format", "csv", "--out", str(out))
    assert code == 0, err
    return list(csv.DictReader(io.StringIO(out.read_text()))), err


def handouts(capsys: pytest.CaptureFixture[str], config: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(run(capsys, config, "handout", "list", "--json")[1])
    return rows


def accepts(key: VirtualKey, pin: str) -> bool:
    """Whether the key takes ``pin`` (a PIN token is issued), as a browser asks it at registration."""
    key.power_cycle()  # plugged into the person's computer
    device = open_virtual_device(key)
    try:
        ClientPin(Ctap2(device)).get_pin_token(pin)
        return True
    except CtapError as e:
        assert e.code == CtapError.ERR.PIN_INVALID, e
        return False
    finally:
        device.close()


def reinsert_for_reset(s: Station, key: VirtualKey) -> None:
    s.keys.insert(key, slot="Hub 1")
    assert s.events.wait_for(KeyRejected).reason == "key_needs_reset"
    s.keys.remove("Hub 1")
    s.events.events.clear()
    s.keys.insert(key, slot="Hub 1")


def test_a_used_key_is_reset_given_a_pin_on_the_letter_and_registered_with_the_tap(
        emu: EntraEmulator, config: str, stations: list[Station], tmp_path: Path,
        capsys: pytest.CaptureFixture[str], logs: list[str]) -> None:
    s = station(stations, emu, tmp_path)
    (ann,) = s.queue_users(1)
    upn = ann["userPrincipalName"]
    code, out, err = run(capsys, config, "handout", "--upn", upn, "--prepare-key")
    assert code == 0 and f"insert the key at station {STATION}" in out, err
    assert letters(capsys, config, tmp_path)[0] == [], "no letter before the key is prepared"
    assert "still to be prepared" in letters(capsys, config, tmp_path)[1]

    key = with_pin(VirtualKey(MODEL, serial="5550001", finger=Finger.after(0.05)), OLD_PIN)
    reinsert_for_reset(s, key)
    prepared = s.events.wait_for(KeyPrepared)
    assert prepared.upn == upn
    s.keys.remove("Hub 1")
    wait_idle(s.engine, 5)

    (row,) = handouts(capsys, config)
    assert row["key_preparation"] == "prepared" and row["state"] == "handed_out"
    assert (row["key_serial"], row["aaguid"]) == ("5550001", AAGUID), "the prepared key is on the hand-out"
    assert "pin_sealed" not in row and "tap_sealed" not in row
    (letter,), _ = letters(capsys, config, tmp_path)
    pin = letter["pin"]
    assert len(pin) >= 4 and letter["key_serial"] == "5550001"
    assert accepts(key, pin), "the key takes the PIN the letter shows"
    assert not accepts(key, OLD_PIN), "the key was reset: its old PIN is gone"
    html_out = tmp_path / "letters.html"
    assert run(capsys, config, "handout", "letters", "--private-key",
               str(tmp_path / f"escrow-{STATION}" / "escrow-private.pem"), "--out", str(html_out))[0] == 0
    assert pin in html_out.read_text() and html.escape("enter the key's PIN printed below") in html_out.read_text()

    assert s.store.queue.get(upn).state == "skipped" and s.store.journal.unfinished() == []
    assert sign_in(Graph(emu), upn, letter["temporary_access_pass"], AAGUID).status_code == 201
    code, out, _ = run(capsys, config, "handout", "verify", "--json")
    assert code == 0 and json.loads(out)["activated"] == [upn]

    s.bus.flush()
    events = json.dumps([e.to_dict() for e in s.events.events])
    assert "prepared for hand-out" in "\n".join(logs), "the logs were captured"
    for place, text in {"store": stored_bytes(tmp_path).decode("latin-1"), "output": transcript(),
                        "logs": "\n".join(logs),
                        "events": events, "audit": audit_text(tmp_path)}.items():
        assert pin not in text, f"the PIN is in the {place} in clear"


def test_a_key_that_fits_no_waiting_handout_is_refused_and_keys_are_enrolled_again_once_none_waits(
        emu: EntraEmulator, config: str, stations: list[Station], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    s = station(stations, emu, tmp_path)
    ann, bo = s.queue_users(2)
    assert run(capsys, config, "handout", "--upn", ann["userPrincipalName"], "--key-serial", "777",
               "--prepare-key")[0] == 0
    s.keys.insert(VirtualKey(MODEL, serial="778"), slot="Hub 1")
    refused = s.events.wait_for(KeyRejected)
    assert refused.reason == "invalid_state" and "serial 777" in refused.message and "station handout list" in \
        refused.remedy
    s.keys.remove("Hub 1")
    assert s.store.queue.get(bo["userPrincipalName"]).state == "queued", "the key was not enrolled either"
    right = VirtualKey(MODEL, serial="777")
    s.keys.insert(right, slot="Hub 2")
    assert s.events.wait_for(KeyPrepared).upn == ann["userPrincipalName"], "a blank key needs no reset"
    s.keys.remove("Hub 2")
    wait_idle(s.engine, 5)
    s.keys.insert(VirtualKey(MODEL, serial="779"), slot="Hub 3")
    assert s.events.wait_for(EnrolmentDone).upn == bo["userPrincipalName"], "none waits: keys are enrolled"


def test_two_keys_inserted_together_for_one_waiting_handout_one_is_prepared_and_the_other_enrolled(
        emu: EntraEmulator, config: str, stations: list[Station], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    s = station(stations, emu, tmp_path)
    ann, bo = s.queue_users(2)
    assert run(capsys, config, "handout", "--upn", ann["userPrincipalName"], "--prepare-key")[0] == 0
    keys = [VirtualKey(MODEL, serial=serial) for serial in ("881", "882")]
    for n, key in enumerate(keys):
        s.keys.insert(key, slot=f"Hub {n}")
    assert s.events.wait_for(KeyPrepared).upn == ann["userPrincipalName"]
    assert s.events.wait_for(EnrolmentDone).upn == bo["userPrincipalName"]
    wait_idle(s.engine, 5)
    assert not s.events.of(KeyRejected)
    (row,) = handouts(capsys, config)
    assert row["key_preparation"] == "prepared" and row["key_serial"] in {"881", "882"}
    enrolled = next(k for k in keys if k.serial != row["key_serial"])
    assert len(enrolled.state.residents) == 1, "the other key holds the enrolled person's passkey"


class Killed(Exception):
    """The station stopping at this point (its process gone: nothing after this write happens)."""


def killed_after(step: str) -> Any:
    """A hand-out book whose ``step`` write is the station's last."""

    class Book:
        def __init__(self, real: Any) -> None:
            self.real = real

        def __getattr__(self, name: str) -> Any:
            return getattr(self.real, name)

        def pin_escrowed(self, handout_id: int, **kw: Any) -> bool:
            done = bool(self.real.pin_escrowed(handout_id, **kw))
            if step == "pin_escrowed":
                raise Killed("stopped before the PIN was set")
            return done

        def key_prepared(self, handout_id: int) -> None:
            raise Killed("stopped after the PIN was set, before it was recorded")

    return Book


@pytest.mark.parametrize("step", ["pin_escrowed", "key_prepared"])
def test_a_station_stopped_between_sealing_and_confirming_the_pin_prepares_the_key_afresh(
        step: str, emu: EntraEmulator, config: str, stations: list[Station], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    first = station(stations, emu, tmp_path, handouts=killed_after(step))
    (ann,) = first.queue_users(1)
    upn = ann["userPrincipalName"]
    assert run(capsys, config, "handout", "--upn", upn, "--prepare-key")[0] == 0
    key = VirtualKey(MODEL, serial="4040", finger=Finger.after(0.05))
    first.keys.insert(key, slot="Hub 1")
    first.events.wait_for(KeyRejected)
    first.keys.remove("Hub 1")
    first.close()
    stations.remove(first)

    (row,) = handouts(capsys, config)
    assert row["key_preparation"] == "pin_escrowed" and row["key_serial"] == "4040"
    assert letters(capsys, config, tmp_path)[0] == [], "no letter while the PIN is not known to be on the key"
    private = load_private_key((tmp_path / f"escrow-{STATION}" / "escrow-private.pem").read_bytes())
    again = station(stations, emu, tmp_path)
    (view,) = again.store.handouts.find(HandoutState.HANDED_OUT)
    assert view.pin_sealed is not None
    first_pin = open_sealed(private, view.pin_sealed, handout_pin_context(view.id))
    assert key.state.pin_set is (step == "key_prepared")

    if key.state.pin_set:
        reinsert_for_reset(again, key)  # it may hold the sealed PIN, or not: it is reset all the same
    else:
        again.keys.insert(key, slot="Hub 1")
    assert again.events.wait_for(KeyPrepared).upn == upn
    again.keys.remove("Hub 1")
    wait_idle(again.engine, 5)
    (letter,), _ = letters(capsys, config, tmp_path)
    assert letter["pin"] != first_pin and accepts(key, letter["pin"]), "the letter's PIN is the key's"
    assert handouts(capsys, config)[0]["key_preparation"] == "prepared"
