"""The station daemon as a real process with virtual keys: the kill -9 cases of the fault matrix, the secrets run.

    python station_proc.py CONFIG [--key STATE_FILE]... [--delay SECONDS] [--crash-at STEP]

Runs ``station.daemon.Daemon`` (store, Entra client, engine, control socket, sd_notify) from the
configuration file, with a virtual key source instead of the USB/NFC watchers. Each ``--key`` inserts a
virtual key (``--delay`` seconds after start) whose state lives in STATE_FILE (so it outlives this
process, like a real key outlives a crashed station). ``--crash-at`` makes this process SIGKILL itself
at one precise point:

* a journal state (``claimed``, ``pin_escrowed``, ``pin_set``, ``credential_made``, ``registered``): right
  after that state's row write is committed;
* ``touch``: while makeCredential waits for the touch;
* ``finalising``: while the key applies the final PIN policy (the key's authenticatorConfig is slowed down).

The crash is a real SIGKILL: no handler, no flush, no cleanup. Test code only.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from station.config import load_config
from station.daemon import Daemon
from station.events import Event, StepChanged, TouchRequired
from station.logsetup import setup_logging
from station.store.journal import Journal
from station_emulator.key import Faults, Finger, VirtualKey
from station_emulator.virtual_source import VirtualKeySource

JOURNAL_CRASHES = {"claimed", "pin_escrowed", "pin_set", "credential_made", "registered"}
EVENT_CRASHES = {"touch", "finalising"}
FINAL_POLICY_SECONDS = 5.0


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def crash_after_journal_write(step: str) -> None:
    opened, advanced = Journal.open, Journal.advance

    def open_then_die(self: Journal, *args: Any, **kwargs: Any) -> Any:
        row = opened(self, *args, **kwargs)
        if step == "claimed":
            die()
        return row

    def advance_then_die(self: Journal, enrolment_id: int, state: Any = None, **fields: Any) -> Any:
        row = advanced(self, enrolment_id, state, **fields)
        if state is not None and str(state) == step:
            die()
        return row

    Journal.open = open_then_die  # type: ignore[method-assign]
    Journal.advance = advance_then_die  # type: ignore[method-assign]


def crash_on_event(step: str) -> Any:
    def listener(event: Event) -> None:
        if step == "touch" and isinstance(event, TouchRequired):
            die()
        if step == "finalising" and isinstance(event, StepChanged) and event.step == "finalising":
            die()
    return listener


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("config")
    parser.add_argument("--key", action="append", default=[])
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--crash-at", default="")
    args = parser.parse_args(argv)
    setup_logging(level=logging.DEBUG)
    cfg = load_config(args.config)
    if args.crash_at in JOURNAL_CRASHES:
        crash_after_journal_write(args.crash_at)
    source = VirtualKeySource()
    daemon = Daemon(cfg, watchers=[source], keep_log_level=True)
    if args.crash_at in EVENT_CRASHES:
        daemon.bus.subscribe(crash_on_event(args.crash_at))
    previous = {s: signal.signal(s, lambda *_: daemon.request_stop()) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        daemon.start()
        slow: dict[int | str, float] = {"CONFIG": FINAL_POLICY_SECONDS} if args.crash_at == "finalising" else {}
        # The touch comes a little late, so that a crash while the key waits for it lands first.
        keys = [VirtualKey("fido21", state_path=Path(k), finger=Finger.after(0.5), faults=Faults(latency=slow))
                for k in args.key]
        threading.Timer(args.delay, lambda: [source.insert(k) for k in keys]).start()
        daemon.serve()
    finally:
        daemon.shutdown(grace=10.0)
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
