"""Event scripts for the dashboard's tests: keys at different stages, on the fixed clock of fake_source."""

from __future__ import annotations

from datetime import UTC

from fake_source import T0, FakeSource

from station.events import (
    EnrolmentDone,
    EnrolmentFailed,
    Event,
    KeyAttached,
    KeyInspected,
    PersonClaimed,
    PinShown,
    Registered,
    StepChanged,
    TouchRequired,
)
from station.tui.app import StationApp, create_app

NOW = T0 + 90


def make_app(source: FakeSource, *, mode: str = "kiosk") -> StationApp:
    return create_app(source, title="Front desk", mode=mode, clock=lambda: NOW, tz=UTC, poll_seconds=3600)


def claimed(slot: str, eid: int, upn: str, name: str, *, at: float, model: str = "YubiKey 5 NFC",
            transport: str = "usb") -> list[Event]:
    return [KeyAttached(slot=slot, transport=transport, fingerprint=f"fp-{eid}", at=at),
            KeyInspected(slot=slot, model=model, aaguid="ee882879-721c-4913-9775-3dfcce97072a", at=at + 1),
            PersonClaimed(slot=slot, enrolment_id=eid, upn=upn, display_name=name, at=at + 2)]


def touch(slot: str, eid: int, *, at: float) -> list[Event]:
    return [StepChanged(slot=slot, enrolment_id=eid, step="pin_escrowed", at=at),
            StepChanged(slot=slot, enrolment_id=eid, step="pin_set", at=at + 1),
            StepChanged(slot=slot, enrolment_id=eid, step="touch", at=at + 2),
            TouchRequired(slot=slot, enrolment_id=eid, at=at + 3)]


def done(slot: str, eid: int, upn: str, name: str, *, at: float) -> list[Event]:
    return [StepChanged(slot=slot, enrolment_id=eid, step="registering", at=at),
            Registered(slot=slot, enrolment_id=eid, upn=upn, method_id="m-1", at=at + 1),
            StepChanged(slot=slot, enrolment_id=eid, step="done", at=at + 2),
            EnrolmentDone(slot=slot, enrolment_id=eid, upn=upn, display_name=name, at=at + 2)]


def throttled(slot: str, eid: int, upn: str, *, at: float) -> list[Event]:
    return [StepChanged(slot=slot, enrolment_id=eid, step="registering", at=at),
            EnrolmentFailed(slot=slot, enrolment_id=eid, upn=upn, reason="graph_throttled",
                            message="Entra ID is throttling the station", retryable=True,
                            remedy="Wait a minute, then retry the person (r).", at=at + 1)]


def three_keys() -> list[Event]:
    """USB 1-1 waiting for a touch, USB 1-2 with its PIN set (shown), NFC reader done."""
    return [*claimed("USB 1-1", 1, "ada@contoso.com", "Ada Lovelace", at=T0),
            *touch("USB 1-1", 1, at=T0 + 5),
            *claimed("USB 1-2", 2, "grace@contoso.com", "Grace Hopper", at=T0 + 20, model="Feitian BioPass"),
            StepChanged(slot="USB 1-2", enrolment_id=2, step="pin_set", at=T0 + 25),
            PinShown(slot="USB 1-2", enrolment_id=2, pin="48213377", at=T0 + 25),
            *claimed("NFC ACS ACR122U 00 00", 3, "alan@contoso.com", "Alan Turing", at=T0 + 30,
                     transport="nfc", model="Virtual security key"),
            *touch("NFC ACS ACR122U 00 00", 3, at=T0 + 33),
            *done("NFC ACS ACR122U 00 00", 3, "alan@contoso.com", "Alan Turing", at=T0 + 40)]
