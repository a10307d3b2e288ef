"""Label values the metrics may carry: every one from a bounded set, none personal.

A reason is one of Station's reason codes; a key model is a name from a key-model catalogue (looked up by
AAGUID, never a string the key sent), at most ``MAX_MODELS`` different ones, else ``other``; an HTTP status is
a number from 100 to 599. UPNs, names, serials, slots and fingerprints never become labels.
"""

from __future__ import annotations

import threading
from typing import Final

from station.errors import Reason
from station.keys.catalogue import unknown_model

OTHER: Final = "other"
UNKNOWN_MODEL: Final = "unknown"
MAX_MODELS: Final = 64
REASONS: Final = frozenset(r.value for r in Reason)


def reason_label(reason: str) -> str:
    return reason if reason in REASONS else OTHER


def status_label(status: int) -> str:
    return str(status) if 100 <= status <= 599 else OTHER


class ModelLabels:
    """Model names as labels: a catalogue's name for the key's AAGUID, the first ``MAX_MODELS`` seen, else other."""

    def __init__(self, limit: int = MAX_MODELS) -> None:
        self._limit = limit
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def label(self, model: str, aaguid: str) -> str:
        try:
            unknown = unknown_model(aaguid)
        except ValueError:
            return OTHER
        if not model or model == unknown:
            return UNKNOWN_MODEL
        with self._lock:
            if model in self._seen:
                return model
            if len(self._seen) >= self._limit:
                return OTHER
            self._seen.add(model)
            return model
