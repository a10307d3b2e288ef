"""The used-key reset flow's memory: which slot was told "remove, re-insert and touch within 10 s".

A key with a PIN is only reset when policy says so *and* it is the re-insertion the technician was
asked for: same slot, same model, soon after the prompt. Keys only accept a reset in the first
seconds after power-up, so the reset runs the moment the key is back.
"""

from __future__ import annotations

import threading

RESET_WINDOW_SECONDS = 10.0
PROMPT_VALID_SECONDS = 120.0
RESET_PROMPT = "This key was used before. To reset it: remove it, insert it again and touch it within 10 seconds."


class ResetBook:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._expected: dict[str, tuple[str, float]] = {}

    def expect(self, slot: str, aaguid: str, now: float) -> None:
        with self._lock:
            self._expected[slot] = (aaguid, now + PROMPT_VALID_SECONDS)

    def due(self, slot: str, aaguid: str, now: float) -> bool:
        """Whether this insertion is the one a reset prompt asked for (consumes the prompt)."""
        with self._lock:
            expected = self._expected.pop(slot, None)
        return expected is not None and expected[0] == aaguid and now <= expected[1]
