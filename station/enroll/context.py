"""What every enrolment session shares, handed over by the engine: the policy, the ports and the station's own."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from fido2.ctap import CtapDevice

from station.config import EnrolmentSection
from station.enroll.graph_gate import GraphGate
from station.enroll.ports import AuditPort, Clock, HandoutBook, JournalPort, PasskeysPort, QueuePort, Sealer
from station.enroll.prefetch import Prefetcher
from station.enroll.preparing import Preparing
from station.enroll.reset import ResetBook
from station.events import EventBus
from station.keys.catalogue import KeyCatalogue

# Added to the touch timeout: how long a key may make no progress while a session waits on it.
STALL_MARGIN_SECONDS: Final = 15.0


@dataclass
class SessionContext:
    """What every session shares, handed over by the engine."""

    policy: EnrolmentSection
    station_id: str
    station_name: str
    queue: QueuePort
    journal: JournalPort
    audit: AuditPort
    passkeys: PasskeysPort
    bus: EventBus
    escrow: Sealer | None
    prefetch: Prefetcher
    graph_gate: GraphGate
    clock: Clock
    resets: ResetBook = field(default_factory=ResetBook)
    on_success: Callable[[CtapDevice], None] | None = None
    stall_margin: float = STALL_MARGIN_SECONDS
    models: KeyCatalogue = field(default_factory=KeyCatalogue.builtin)
    handouts: HandoutBook | None = None  # hand-outs whose key is prepared here instead of enrolled (prepare.py)
    preparing: Preparing = field(default_factory=Preparing)
