"""Benchmark 2 — the critical path with realistic latencies: insert → touch prompt, and touch → done.

Entra answers every Graph call after 150 ms; the key spends 150 ms in setPIN and 250 ms in makeCredential
(before it asks for the touch); the technician touches 1.0 s after the prompt and swaps keys in 1.5 s.
Times come from the event bus: KeyAttached → TouchRequired is insert → prompt; the touch is the prompt
+ 1.0 s (the key's finger counts from its first keepalive UPNEEDED, which is what raises TouchRequired);
EnrolmentDone ends it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench.remote_keys import KeyHost, RemoteKeys
from bench.report import Section
from bench.rig import GRAPH_LATENCY_MS, KEY_LATENCY, EntraProcess, Run, build_station, enrol_once
from bench.size import Size, pick
from bench.stats import median, percentile, spread

TITLE = "2. Critical path with realistic latencies"
TOUCH_AFTER = 1.0
SWAP_SECONDS = 1.5
KEY_BEFORE_PROMPT_MS = (KEY_LATENCY["setPIN"] + KEY_LATENCY["makeCredential"]) * 1000
PROMPT_TARGET_MS = KEY_BEFORE_PROMPT_MS + 50
DONE_TARGET_MS = GRAPH_LATENCY_MS + 0 + 30


def insert_to_prompt(run: Run) -> float:
    assert run.prompt is not None
    return (run.prompt - run.attached) * 1000


def touch_to_done(run: Run) -> float:
    assert run.prompt is not None and run.finished is not None
    return (run.finished - (run.prompt + TOUCH_AFTER)) * 1000


def measure(info: dict[str, str], socket_path: Path, workdir: Path, n: int, skip: int,
            **setup: Any) -> list[Run]:
    """``n`` timed enrolments; ``setup`` goes to ``build_station`` (key models, enrolment policy)."""
    station = build_station(info, workdir, people=n, skip=skip, **setup)
    keys = RemoteKeys(socket_path, station.engine.key_attached, station.engine.key_removed)
    runs = []
    try:
        for i in range(n):
            time.sleep(SWAP_SECONDS)
            runs.append(enrol_once(station, keys, "USB 1", i))
    finally:
        station.close()
    return runs


def run(workdir: Path, size: Size) -> Section:
    n, repeats = pick(size, smoke=(2, 1), quick=(5, 1), full=(12, 3))
    section = Section("critical", TITLE, "python -m bench.run critical")
    socket_path = workdir / "keyhost.sock"
    per_run: list[dict[str, float]] = []
    with (EntraProcess(workdir, users=n * repeats, latency_ms=GRAPH_LATENCY_MS) as entra,
          KeyHost(socket_path, KEY_LATENCY, touch_after=TOUCH_AFTER)):
        for r in range(repeats):
            runs = measure(entra.info, socket_path, workdir / f"critical-{r}", n, skip=r * n)
            prompt = [insert_to_prompt(x) for x in runs]
            done = [touch_to_done(x) for x in runs]
            per_run.append({"prompt_p50": percentile(prompt, 50), "prompt_p95": percentile(prompt, 95),
                            "done_p50": percentile(done, 50), "done_p95": percentile(done, 95)})

    def row(label: str, key: str, target: float) -> list[str]:
        values = [r[key] for r in per_run]
        verdict = "meets" if median(values) <= target else "misses"
        return [label, f"{median(values):.0f} ms", spread(values) + " ms", f"≤ {target:.0f} ms — {verdict}"]

    section.add(
        f"{repeats} run(s) × {n} enrolments, one key at a time, keys in the key host process and Entra in "
        f"its own (`station emulate entra --latency-ms {GRAPH_LATENCY_MS:.0f}`). Key: setPIN "
        f"{KEY_LATENCY['setPIN'] * 1000:.0f} ms, makeCredential {KEY_LATENCY['makeCredential'] * 1000:.0f} ms "
        f"(spent before it asks for the touch), every other command at once; touch {TOUCH_AFTER:.1f} s after the "
        f"prompt; {SWAP_SECONDS:.1f} s between removing a key and inserting the next (the technician's swap — "
        "time in which the station prefetches the next person's creation options). Default enrolment policy "
        "(forced PIN change: one more PIN token and authenticatorConfig after registration).",
        "",
        f"Targets: insert → prompt within the key's time before the prompt ({KEY_BEFORE_PROMPT_MS:.0f} ms) + "
        f"50 ms; touch → done within one Graph round trip ({GRAPH_LATENCY_MS:.0f} ms) + the key's time after "
        "the touch (0 ms here) + 30 ms. p50/p95 are per run; the table shows their median over runs.",
        "",
    )
    section.table(["interval", "median", "spread of runs", "target"], [
        row("insert → touch prompt, p50", "prompt_p50", PROMPT_TARGET_MS),
        row("insert → touch prompt, p95", "prompt_p95", PROMPT_TARGET_MS),
        row("touch → done, p50", "done_p50", DONE_TARGET_MS),
        row("touch → done, p95", "done_p95", DONE_TARGET_MS),
    ])
    return section
