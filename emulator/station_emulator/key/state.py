"""The persistent state of a virtual key, and its atomic storage in a file.

What survives a re-insertion or a restart: serial, master key, PIN verifier (LEFT(SHA-256(PIN), 16), as
authenticators store it), retries, PIN policy, settings, signature counter and resident credentials. The
file is written to a temporary file and renamed over the old one, mode 0600.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fido2 import cbor

from station_emulator.key.credentials import ResidentCredential

log = logging.getLogger(__name__)

PIN_RETRIES_MAX = 8
STATE_VERSION = 1


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text)


@dataclass
class KeyState:
    """Everything a key remembers while unplugged."""

    serial: str
    master_key: bytes = field(repr=False)
    min_pin_length: int
    pin_hash: bytes | None = field(default=None, repr=False)
    pin_length: int = 0
    pin_retries: int = PIN_RETRIES_MAX
    min_pin_rpids: list[str] = field(default_factory=list)
    force_pin_change: bool = False
    always_uv: bool = False
    enterprise_attestation: bool = False
    sign_count: int = 0
    creation_counter: int = 0
    residents: list[ResidentCredential] = field(default_factory=list)

    @property
    def pin_set(self) -> bool:
        return self.pin_hash is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "serial": self.serial,
            "master_key": _b64(self.master_key),
            "pin_hash": _b64(self.pin_hash) if self.pin_hash is not None else None,
            "pin_length": self.pin_length,
            "pin_retries": self.pin_retries,
            "min_pin_length": self.min_pin_length,
            "min_pin_rpids": list(self.min_pin_rpids),
            "force_pin_change": self.force_pin_change,
            "always_uv": self.always_uv,
            "enterprise_attestation": self.enterprise_attestation,
            "sign_count": self.sign_count,
            "creation_counter": self.creation_counter,
            "residents": [
                {
                    "credential_id": _b64(r.credential_id),
                    "rp_id_hash": _b64(r.rp_id_hash),
                    "rp": _b64(cbor.encode(r.rp)),
                    "user": _b64(cbor.encode(r.user)),
                    "created": r.created,
                }
                for r in self.residents
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> KeyState:
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported key state version {data.get('version')!r}")
        return cls(
            serial=data["serial"],
            master_key=_unb64(data["master_key"]),
            pin_hash=_unb64(data["pin_hash"]) if data.get("pin_hash") else None,
            pin_length=int(data.get("pin_length", 0)),
            pin_retries=int(data["pin_retries"]),
            min_pin_length=int(data["min_pin_length"]),
            min_pin_rpids=list(data.get("min_pin_rpids", [])),
            force_pin_change=bool(data.get("force_pin_change", False)),
            always_uv=bool(data.get("always_uv", False)),
            enterprise_attestation=bool(data.get("enterprise_attestation", False)),
            sign_count=int(data.get("sign_count", 0)),
            creation_counter=int(data.get("creation_counter", 0)),
            residents=[
                ResidentCredential(
                    credential_id=_unb64(r["credential_id"]),
                    rp_id_hash=_unb64(r["rp_id_hash"]),
                    rp=_decode_entity(r["rp"]),
                    user=_decode_entity(r["user"]),
                    created=int(r["created"]),
                )
                for r in data.get("residents", [])
            ],
        )


def _decode_entity(text: str) -> dict[str, Any]:
    entity = cbor.decode(_unb64(text))
    if not isinstance(entity, dict):
        raise ValueError("a stored RP or user entity is not a map")
    return entity


def load_state(path: Path) -> KeyState | None:
    """The state stored at ``path``, or None when there is no file yet."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    return KeyState.from_json(json.loads(text))


def save_state(path: Path, state: KeyState) -> None:
    """Write ``state`` to ``path`` atomically (temporary file in the same directory, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(state.to_json(), f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    log.debug("key state saved to %s", path)
