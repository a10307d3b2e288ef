"""A key that already has a PIN because this store enrolled it a moment ago — before a restart, or before
the technician took it out and put it back — is recognised instead of refused as "used".

The journal names the credentials of recent enrolments of keys of this model; the key is asked, silently
(getAssertion with ``up: false``, no PIN, the credential in the allow list), whether it holds one of them. Only
the key that holds the credential answers with an assertion: another key of the same model says it has no
such credential. A key whose credential needs user verification even to be found (credProtect level 3)
cannot be recognised this way and is refused as before.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any, Final
from urllib.parse import urlsplit

from fido2.ctap import CtapError
from fido2.ctap2 import Ctap2
from fido2.utils import websafe_decode

from station.enroll.ports import JournalPort

log = logging.getLogger(__name__)

RECENT_SECONDS: Final = 24 * 3600
MAX_PROBES: Final = 20
PROBE_CLIENT_DATA_HASH: Final = hashlib.sha256(b"station: does this key hold the credential?").digest()


def rp_id_of(client_data_json: str | None) -> str | None:
    """The relying party a credential was made for: the host of the origin in its stored client data."""
    if not client_data_json:
        return None
    try:
        origin = json.loads(websafe_decode(client_data_json)).get("origin", "")
    except (ValueError, AttributeError):
        return None
    return urlsplit(str(origin)).hostname


def enrolled_earlier(ctap: Ctap2, journal: JournalPort, aaguid: str, now: float) -> Any | None:
    """The journal row of a recent enrolment whose credential this key holds; None when there is none."""
    for row in journal.recently_done(aaguid, now - RECENT_SECONDS, MAX_PROBES):
        rp_id = rp_id_of(row.client_data_json)
        if rp_id is None or not row.credential_id:
            continue
        credential = {"type": "public-key", "id": websafe_decode(row.credential_id)}
        try:
            ctap.get_assertion(rp_id, PROBE_CLIENT_DATA_HASH, [credential], options={"up": False})
        except CtapError as e:
            if e.code == CtapError.ERR.NO_CREDENTIALS:
                continue
            log.info("the key does not answer a silent credential check (%s); treating it as used", e.code.name)
            return None
        return row
    return None
