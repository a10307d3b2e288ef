"""Benchmark 7 — FIDO metadata loaded: does it cost the technician or the CPU anything per enrolment?

The same runners as benchmarks 1 and 2 (``bench.overhead.measure``, ``bench.critical_path.measure``), each
run with three key-model catalogues in turn, alternating within every repeat so that machine noise falls on
all three alike: the built-in names only (no BLOB), the real May 2025 MDS3 payload (BLOB no. 163, 239 FIDO2
models, plus an entry for the virtual keys' model with their root), and that payload with
``attestation = "verify"`` (each new credential's attestation checked against the model's MDS roots). The
one-time costs — indexing the stored payload at daemon start, and a lookup — are timed on their own.
"""

from __future__ import annotations

import copy
import hashlib
import json
import lzma
import subprocess
import time
from base64 import b64encode
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from fido2.utils import websafe_encode

from bench import critical_path, overhead
from bench.machine import station_command
from bench.remote_keys import KeyHost
from bench.report import Section
from bench.rig import GRAPH_LATENCY_MS, KEY_LATENCY, EntraProcess
from bench.size import Size, pick
from bench.stats import median, percentile, spread
from station.keys.blob import VerifiedBlob
from station.keys.catalogue import KeyCatalogue
from station.keys.persist import load_catalogue, save
from station.store import open_store
from station_emulator.key.attestation import attestation_root_der

TITLE = "7. FIDO metadata loaded — insert → prompt and CPU per enrolment, with and without"
PAYLOAD = Path(__file__).resolve().parent.parent / "tests" / "data" / "mds3-payload-2025-05.json.xz"
VIRTUAL_AAGUID = "5a7e0000-2100-4000-8000-5a7e10000021"
TEMPLATE_AAGUID = "cb69481e-8ff7-4039-93ec-0a2729a154a8"
VARIANTS = ("no metadata (built-in names)", "MDS BLOB no. 163 loaded", "loaded, attestation = \"verify\"")


def payload() -> dict[str, Any]:
    """The real payload plus an entry for the virtual keys' model, as an administrator's BLOB would list it."""
    data: dict[str, Any] = json.loads(lzma.decompress(PAYLOAD.read_bytes()))
    entry = copy.deepcopy(next(e for e in data["entries"] if e.get("aaguid") == TEMPLATE_AAGUID))
    entry["aaguid"] = VIRTUAL_AAGUID
    entry["metadataStatement"].update(aaguid=VIRTUAL_AAGUID, description="Station Virtual Key 2.1",
                                      attestationRootCertificates=[b64encode(attestation_root_der()).decode()])
    data["entries"].append(entry)
    return data


def one_time_costs(workdir: Path, data: dict[str, Any], repeats: int = 5) -> dict[str, float]:
    """Daemon start (read the stored payload, index it) and one lookup, in milliseconds / microseconds."""
    store = open_store(f"sqlite:///{workdir / 'meta.db'}", "bench")
    text = json.dumps(data)
    save(store.meta, VerifiedBlob(data, int(data["no"]), date(2099, 1, 1), "bench",
                                  hashlib.sha256(text.encode()).hexdigest()))
    starts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        catalogue = load_catalogue(store.meta)
        starts.append((time.perf_counter() - t0) * 1000)
    store.close()
    lookups = 20000
    t0 = time.perf_counter()
    for _ in range(lookups):
        catalogue.name(VIRTUAL_AAGUID)
        catalogue.get(VIRTUAL_AAGUID)
    return {"start_ms": median(starts), "lookup_us": (time.perf_counter() - t0) / lookups * 1e6,
            "models": float(len(catalogue)), "payload_mb": len(text) / 1e6}


def signed_blob(data: dict[str, Any]) -> tuple[bytes, bytes]:
    """``data`` as a BLOB signed under a root of the benchmark's own (RS256, x5c of the signer): (BLOB, root PEM)."""
    root_key, leaf_key = (rsa.generate_private_key(65537, 2048) for _ in range(2))

    def cert(subject: str, key: rsa.RSAPrivateKey, *, ca: bool) -> x509.Certificate:
        now = datetime.now(UTC)
        return (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
                .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Bench MDS Root")]))
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
                .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
                .sign(root_key, hashes.SHA256()))

    root, leaf = cert("Bench MDS Root", root_key, ca=True), cert("mds.bench.invalid", leaf_key, ca=False)
    header = {"alg": "RS256", "typ": "JWT", "x5c": [b64encode(leaf.public_bytes(Encoding.DER)).decode()]}
    message = b".".join(websafe_encode(json.dumps(part).encode()).encode() for part in (header, data))
    signature = leaf_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    return message + b"." + websafe_encode(signature).encode(), root.public_bytes(Encoding.PEM)


def time_mds_load(workdir: Path, data: dict[str, Any], repeats: int = 5) -> list[float]:
    """Wall seconds of the whole `station mds load BLOB --trust-root PEM` (verify, store, audit) into SQLite."""
    blob, root = workdir / "blob.jwt", workdir / "root.pem"
    blob_bytes, root_pem = signed_blob({**data, "nextUpdate": "2099-01-01"})
    blob.write_bytes(blob_bytes)
    root.write_bytes(root_pem)
    walls = []
    for i in range(repeats):
        started = time.monotonic()
        subprocess.run([*station_command(), "mds", "load", str(blob), "--trust-root", str(root),
                        "--store", f"sqlite:///{workdir / f'load-{i}.db'}"], check=True, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL)
        walls.append(time.monotonic() - started)
    return walls


def run(workdir: Path, size: Size) -> Section:
    data = payload()
    costs = one_time_costs(workdir, data)
    loads = time_mds_load(workdir, data, repeats=pick(size, smoke=1, quick=3, full=5))
    loaded = KeyCatalogue.from_payload(data, "bench")
    setups: list[dict[str, Any]] = [{}, {"models": loaded}, {"models": loaded, "attestation": "verify"}]
    section = Section("mds", TITLE, "python -m bench.run mds")
    cpu = _overhead(workdir, setups, *pick(size, smoke=(2, 1), quick=(10, 2), full=(20, 3)))
    prompt, done = _critical(workdir, setups, *pick(size, smoke=(2, 1), quick=(4, 1), full=(8, 2)))
    section.add(
        "The runners of benchmarks 1 and 2, each run with three key-model catalogues in turn (alternating "
        "within every repeat): no BLOB (built-in names), the real MDS3 payload of May 2025 (BLOB no. 163) "
        "plus an entry for the virtual keys' model, and that payload with `attestation = \"verify\"`. "
        "Benchmark 1's setting (no added latency, touched at once) for CPU; benchmark 2's (Graph "
        f"{GRAPH_LATENCY_MS:.0f} ms, setPIN {KEY_LATENCY['setPIN'] * 1000:.0f} ms, makeCredential "
        f"{KEY_LATENCY['makeCredential'] * 1000:.0f} ms, touch 1 s after the prompt) for the intervals. "
        f"One-time costs: reading the stored payload ({costs['payload_mb']:.1f} MB of JSON) from SQLite and "
        f"indexing its {costs['models']:.0f} models by AAGUID at daemon start took {costs['start_ms']:.0f} ms "
        f"(median of 5); a lookup (name and facts) takes {costs['lookup_us']:.2f} µs, a dict access with or "
        "without metadata. `station mds load` of that BLOB (signed by a root of the benchmark's own, "
        f"{len(json.dumps(data)) / 1e6:.1f} MB), as a whole process into a new SQLite store — start-up, JWT "
        f"signature and chain, storing the payload, the audit entry — took {median(loads):.2f} s wall (median "
        f"of {len(loads)}, spread {spread(loads)} s).",
        "",
    )
    section.table(["measure", *VARIANTS], [
        ["CPU per enrolment, station process (median of runs)", *[f"{median(v):.1f} ms ({spread(v)})" for v in cpu]],
        ["insert → touch prompt, p50", *[f"{median(v):.0f} ms ({spread(v)})" for v in prompt]],
        ["touch → done, p50", *[f"{median(v):.0f} ms ({spread(v)})" for v in done]],
    ])
    return section


def _overhead(workdir: Path, setups: list[dict[str, Any]], n: int, repeats: int) -> list[list[float]]:
    per_enrolment = n + overhead.WARMUP
    cpu: list[list[float]] = [[] for _ in setups]
    workdir = workdir / "overhead"
    workdir.mkdir()
    socket_path = workdir / "keyhost.sock"
    with (EntraProcess(workdir, users=per_enrolment * repeats * len(setups), latency_ms=0) as entra,
          KeyHost(socket_path, {}, touch_after=0.0)):
        for r in range(repeats):
            for v, setup in enumerate(setups):
                skip = (r * len(setups) + v) * per_enrolment
                result = overhead.measure(entra.info, socket_path, workdir / f"cpu-{r}-{v}", n, skip, **setup)
                cpu[v].append(result["cpu_ms"])
    return cpu


def _critical(workdir: Path, setups: list[dict[str, Any]], n: int,
              repeats: int) -> tuple[list[list[float]], list[list[float]]]:
    prompt: list[list[float]] = [[] for _ in setups]
    done: list[list[float]] = [[] for _ in setups]
    workdir = workdir / "critical"
    workdir.mkdir()
    socket_path = workdir / "keyhost.sock"
    with (EntraProcess(workdir, users=n * repeats * len(setups), latency_ms=GRAPH_LATENCY_MS) as entra,
          KeyHost(socket_path, KEY_LATENCY, touch_after=critical_path.TOUCH_AFTER)):
        for r in range(repeats):
            for v, setup in enumerate(setups):
                skip = (r * len(setups) + v) * n
                runs = critical_path.measure(entra.info, socket_path, workdir / f"path-{r}-{v}", n, skip, **setup)
                prompt[v].append(percentile([critical_path.insert_to_prompt(x) for x in runs], 50))
                done[v].append(percentile([critical_path.touch_to_done(x) for x in runs], 50))
    return prompt, done
