"""A key that comes back to a station: which inventory record it is, and whether it may be reset.

A key with a PIN is looked up in the inventory: by its serial where it tells one, else by asking it silently
(getAssertion with ``up: false``, no PIN) which of the passkeys Station put on keys of its model it holds — only
the key holding one answers with it. A key whose holder's passkey is live in Entra ID (``active`` or
``revoking``) is never reset or handed to anyone else: it is refused, naming its holder and the revoke
command. A key whose passkey was revoked (``lost``, ``revoked``, ``returned``) may be reset; the record then
becomes ``reset``. A key the inventory does not know is treated as before (refused, or reset by policy).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from fido2.ctap import CtapError
from fido2.ctap2 import Ctap2
from fido2.utils import websafe_decode

from station.enroll.ports import JournalPort, KeyBook, KeyRecord
from station.enroll.recognise import PROBE_CLIENT_DATA_HASH, rp_id_of
from station.errors import Reason, StationError
from station.states import KeyState

log = logging.getLogger(__name__)

MAX_PROBED_RECORDS: Final = 64


def identify(ctap: Ctap2, keys: KeyBook, journal: JournalPort, aaguid: str, serial: str | None) -> KeyRecord | None:
    """The newest inventory record of this key (by serial, else by the passkey it holds); None if unknown."""
    if serial:
        records = [r for r in keys.by_serial(serial) if r.state != KeyState.RESET]
        if records:
            return records[-1]
    held = [r for r in keys.held_of_model(aaguid, MAX_PROBED_RECORDS) if r.credential_id]
    return _probe(ctap, journal, held)


def _probe(ctap: Ctap2, journal: JournalPort, records: Sequence[KeyRecord]) -> KeyRecord | None:
    by_rp: dict[str, dict[bytes, KeyRecord]] = {}
    for record in records:
        row = journal.get(record.enrolment_id)
        rp_id = rp_id_of(row.client_data_json if row is not None else None)
        if rp_id is not None and record.credential_id:
            by_rp.setdefault(rp_id, {}).setdefault(websafe_decode(record.credential_id), record)
    batch = max(1, ctap.info.max_creds_in_list or 1)
    for rp_id, wanted in by_rp.items():
        ids = list(wanted)
        for start in range(0, len(ids), batch):
            found = _holds(ctap, rp_id, ids[start:start + batch])
            if found is not None and found in wanted:
                return wanted[found]
    return None


def _holds(ctap: Ctap2, rp_id: str, ids: Iterable[bytes]) -> bytes | None:
    allow: list[Mapping[str, Any]] = [{"type": "public-key", "id": cid} for cid in ids]
    try:
        assertion = ctap.get_assertion(rp_id, PROBE_CLIENT_DATA_HASH, allow, options={"up": False})
    except CtapError as e:
        if e.code != CtapError.ERR.NO_CREDENTIALS:
            log.info("the key does not answer a silent credential check (%s)", e.code.name)
        return None
    credential = assertion.credential or {}
    found = credential.get("id") if isinstance(credential, dict) else None
    if found is None and len(allow) == 1:
        return bytes(allow[0]["id"])
    return bytes(found) if found is not None else None


def belongs_to(record: KeyRecord) -> StationError:
    """The refusal of a key that still holds its holder's live passkey."""
    holder = record.display_name or record.upn
    return StationError(f"this key belongs to {holder} — revoke it first "
                        f"(station keys revoke --serial {record.identity} --reason …)",
                        reason=Reason.KEY_BELONGS_TO_SOMEONE,
                        remedy=f"Hand the key back to {holder}, or revoke its passkey first: station keys revoke "
                               f"--serial {record.identity} --reason lost|stolen|left|replaced; then insert it "
                               "again.")
