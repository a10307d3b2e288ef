"""Fault and latency injection for a virtual key, for tests and benchmarks.

Commands are named by CTAP2 command byte (``Ctap2.CMD.MAKE_CREDENTIAL`` or ``0x01``), by that enum's name
(``"MAKE_CREDENTIAL"``, case-insensitive), or ``"U2F"`` for every CTAP1/U2F message.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from fido2.ctap import CtapError
from fido2.ctap2 import Ctap2

U2F = "U2F"
# Ways makeCredential's answer can be forged (``Faults.forged``): each breaks one rule a station checks.
FORGERIES = frozenset({
    "rp_id_hash",            # authenticator data for another site (SHA-256 of "evil.example")
    "user_presence",         # user-present flag clear
    "user_verification",     # user-verified flag clear although the PIN was given
    "aaguid",                # attested AAGUID (and attestation certificate) of another model than getInfo's
    "long_credential_id",    # a 2000-byte credential id
    "attestation_signature", # the attestation signature is over other data
})

CommandName = int | str


def command_key(command: CommandName) -> int | str:
    """Normalise a command given as byte, enum or name to the byte (or ``"U2F"``)."""
    if isinstance(command, int):
        return int(command)
    name = command.strip().upper().replace("-", "_")
    if name == U2F:
        return U2F
    try:
        return int(Ctap2.CMD[name])
    except KeyError:
        raise ValueError(f"unknown CTAP command {command!r}") from None


@dataclass
class Faults:
    """What to break, per command.

    ``latency``: seconds of extra processing time (keepalive PROCESSING is sent meanwhile);
    ``remove_during``: the key is pulled out while the command runs (no answer, ``VirtualKey.removed`` set);
    ``malformed``: the answer is a success status with truncated CBOR;
    ``errors``: the command fails with this CTAP error instead of running;
    ``forged``: makeCredential answers with these ``FORGERIES`` (a counterfeit or hostile key).
    """

    latency: Mapping[CommandName, float] = field(default_factory=dict)
    remove_during: Iterable[CommandName] = field(default_factory=set)
    malformed: Iterable[CommandName] = field(default_factory=set)
    errors: Mapping[CommandName, CtapError.ERR] = field(default_factory=dict)
    forged: Iterable[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._latency = {command_key(k): float(v) for k, v in self.latency.items()}
        self._remove = {command_key(k) for k in self.remove_during}
        self._malformed = {command_key(k) for k in self.malformed}
        self._errors = {command_key(k): CtapError.ERR(v) for k, v in self.errors.items()}
        self._forged = frozenset(self.forged)
        unknown = self._forged - FORGERIES
        if unknown:
            raise ValueError(f"unknown forgery {', '.join(sorted(unknown))}; expected any of "
                             f"{', '.join(sorted(FORGERIES))}")

    def latency_for(self, command: int | str) -> float:
        return self._latency.get(command, 0.0)

    def removes(self, command: int | str) -> bool:
        return command in self._remove

    def malforms(self, command: int | str) -> bool:
        return command in self._malformed

    def error_for(self, command: int | str) -> CtapError.ERR | None:
        return self._errors.get(command)

    def forges(self, forgery: str) -> bool:
        return forgery in self._forged
