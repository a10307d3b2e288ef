"""Benchmark 3 — throughput with K keys at once, and a one-key-at-a-time baseline like today's scripts.

K slots, each re-filled with a fresh key as soon as its enrolment is done, M enrolments per slot, the
realistic latencies of benchmark 2 and a touch 1.0 s after each prompt. Throughput is enrolments per
minute from the first insertion to the last EnrolmentDone; efficiency = thr(K) / (K × thr(1)).
The baseline is a plain script (no engine, no queue, no journal): per person, open the key, fetch the
creation options after the key is in, set the PIN, makeCredential, register, apply the PIN policy —
strictly one after the other. Each round measures K = 1…16 and the baseline back to back, so the
ratios are taken within one round; the table shows medians over rounds.
"""

from __future__ import annotations

import secrets
import threading
import time
from pathlib import Path
from typing import Any

from fido2.ctap2 import ClientPin, Ctap2

from bench.remote_keys import KeyHost, RemoteKeys
from bench.report import Section
from bench.rig import GRAPH_LATENCY_MS, KEY_LATENCY, EntraProcess, Run, build_station, station_config
from bench.size import Size, pick
from bench.stats import median, percentile, spread
from station.config import Config
from station.enroll import ceremony, pin_rules
from station.entra import EntraClient

TITLE = "3. Throughput scaling with K keys at once"
TOUCH_AFTER = 1.0
KS = (1, 2, 4, 8, 16)
TARGET_EFFICIENCY = 0.9  # at K = 8 and K = 16


def station_round(info: dict[str, str], socket_path: Path, workdir: Path, k: int, m: int,
                  skip: int, **enrolment: Any) -> tuple[float, list[Run]]:
    """Enrolments per minute with ``k`` slots, ``m`` enrolments each (``enrolment``: policy settings)."""
    station = build_station(info, workdir, people=k * m, skip=skip, **enrolment)
    keys = RemoteKeys(socket_path, station.engine.key_attached, station.engine.key_removed)
    time.sleep(1.5)
    errors: list[BaseException] = []

    def technician(slot: str) -> None:
        try:
            for i in range(m):
                keys.plug(slot)
                run = station.tracker.wait_finished(slot, i, timeout=120)
                keys.unplug(slot)
                if run.outcome != "done":
                    raise RuntimeError(f"{slot}: enrolment {i} ended with {run.outcome}")
        except BaseException as e:
            errors.append(e)

    try:
        threads = [threading.Thread(target=technician, args=(f"USB {s + 1}",)) for s in range(k)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        runs = station.tracker.done()
    finally:
        station.close()
    first = min(r.attached for r in runs)
    last = max(r.finished or 0.0 for r in runs)
    return len(runs) / (last - first) * 60, runs


def baseline_round(cfg: Config, socket_path: Path, people: list[str], m: int) -> float:
    """Enrolments per minute of the one-key-at-a-time script."""
    entra = EntraClient(cfg)
    keys = RemoteKeys(socket_path, lambda _c: None, lambda _f: None)
    try:
        entra.passkeys.creation_options(people[0])
        started = time.monotonic()
        for user in people[1:m + 1]:
            sock, candidate = keys.connect_device()
            try:
                ctap = Ctap2(candidate)
                options = entra.passkeys.creation_options(user)
                request = ceremony.build_request(options, ctap, cfg.enrolment)
                client_pin = ClientPin(ctap)
                pin = "".join(secrets.choice("0123456789") for _ in range(8))
                client_pin.set_pin(pin)
                credential = ceremony.make_credential(ctap, client_pin, pin, request, enterprise_attestation=False,
                                                      cancel=threading.Event(), on_keepalive=lambda _s: None)
                entra.passkeys.register(user, "Security key", credential.credential_id,
                                        credential.client_data_json, credential.attestation_object,
                                        credential.client_extension_results)
                pin_rules.apply(ctap, client_pin, pin, pin_rules.plan(ctap.info, cfg.enrolment))
            finally:
                candidate.close()
                sock.close()
        return m / (time.monotonic() - started) * 60
    finally:
        entra.close()


def run(workdir: Path, size: Size) -> Section:
    m, rounds = pick(size, smoke=(1, 1), quick=(3, 1), full=(6, 3))
    ks = KS if size is not Size.SMOKE else KS[:2]
    per_round = m * sum(ks) + m + 1
    section = Section("throughput", TITLE, "python -m bench.run throughput")
    socket_path = workdir / "keyhost.sock"
    results: list[dict[str, float]] = []
    loaded: dict[int, list[Run]] = {}
    with (EntraProcess(workdir, users=per_round * rounds, latency_ms=GRAPH_LATENCY_MS) as entra,
          KeyHost(socket_path, KEY_LATENCY, touch_after=TOUCH_AFTER)):
        skip = 0
        for r in range(rounds):
            result: dict[str, float] = {}
            for k in ks:
                result[f"thr{k}"], runs = station_round(entra.info, socket_path, workdir / f"thr-{r}-{k}", k, m, skip)
                loaded.setdefault(k, []).extend(runs)
                skip += k * m
            cfg = station_config(entra.info, workdir / f"baseline-{r}")
            people = baseline_people(cfg, entra.info, skip, m + 1)
            result["baseline"] = baseline_round(cfg, socket_path, people, m)
            skip += m + 1
            results.append(result)
    section.add(
        f"{rounds} round(s); per round K = {', '.join(map(str, ks))} slots × {m} enrolments per slot, then the "
        f"baseline script for {m} enrolments. Latencies as in benchmark 2 (Graph {GRAPH_LATENCY_MS:.0f} ms per "
        f"call; key setPIN {KEY_LATENCY['setPIN'] * 1000:.0f} ms, makeCredential "
        f"{KEY_LATENCY['makeCredential'] * 1000:.0f} ms), touch {TOUCH_AFTER:.1f} s after each prompt, a finished "
        "key replaced at once. Station with its default policy (prefetch 4 people plus one per key in, at most 8 "
        "concurrent Graph calls, forced PIN change).",
        "",
    )
    rows = []
    for k in ks:
        thr = [x[f"thr{k}"] for x in results]
        eff = [x[f"thr{k}"] / (k * x["thr1"]) for x in results]
        ratio = [x[f"thr{k}"] / x["baseline"] for x in results]
        runs = loaded[k]
        prompt = [(x.prompt - x.attached) * 1000 for x in runs if x.prompt]
        done = [((x.finished or 0) - x.prompt - TOUCH_AFTER) * 1000 for x in runs if x.prompt]
        target = ""
        if k in (8, 16):
            target = f"≥ {TARGET_EFFICIENCY} — {'meets' if median(eff) >= TARGET_EFFICIENCY else 'misses'}"
        rows.append([k, f"{median(thr):.1f}", spread(thr), f"{median(eff):.2f}", target, f"{median(ratio):.1f}×",
                     f"{percentile(prompt, 50):.0f} / {percentile(prompt, 95):.0f}",
                     f"{percentile(done, 50):.0f} / {percentile(done, 95):.0f}"])
    base = [x["baseline"] for x in results]
    section.table(["K", "enrolments/min", "spread", "efficiency", "target", "÷ baseline",
                   "insert → prompt p50/p95 ms", "touch → done p50/p95 ms"], rows)
    section.add(f"Baseline, one key at a time like today's scripts: {median(base):.1f} enrolments/min "
                f"(spread {spread(base)}).", "")
    return section


def baseline_people(cfg: Config, info: dict[str, str], skip: int, count: int) -> list[str]:
    with EntraClient(cfg) as entra:
        ids = []
        for n, user in enumerate(entra.directory.group_members(info["group_id"])):
            if n >= skip:
                ids.append(user.id)
            if len(ids) >= count:
                break
    return ids
