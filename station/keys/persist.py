"""The loaded FIDO metadata, kept in the store's ``meta`` table so that every station sharing the store
(a fleet on PostgreSQL) uses the same BLOB: ``mds3.info`` (number, nextUpdate, signer, SHA-256, when) and
``mds3.payload`` (the verified payload as JSON), written together in one transaction.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Final

from station.errors import StoreError
from station.keys.catalogue import KeyCatalogue
from station.store.meta import MetaStore

if TYPE_CHECKING:
    from station.keys.blob import VerifiedBlob  # python-fido2's MDS3 parser and cryptography's x509: `station mds load`

log = logging.getLogger(__name__)

INFO_KEY: Final = "mds3.info"
PAYLOAD_KEY: Final = "mds3.payload"
RELOAD_REMEDY: Final = "run station mds load FILE again with a freshly downloaded BLOB"


def save(meta: MetaStore, blob: VerifiedBlob) -> dict[str, Any]:
    """Store ``blob``; returns the info row written."""
    info = {"no": blob.number, "next_update": blob.next_update.isoformat(), "signer": blob.signer,
            "sha256": blob.sha256, "loaded_at": datetime.now(UTC).isoformat(timespec="seconds")}
    meta.set_many({PAYLOAD_KEY: json.dumps(blob.payload, separators=(",", ":")), INFO_KEY: json.dumps(info)})
    return info


def load_info(meta: MetaStore) -> dict[str, Any] | None:
    text = meta.get(INFO_KEY)
    return json.loads(text) if text else None


def load_catalogue(meta: MetaStore) -> KeyCatalogue:
    """The catalogue from the stored BLOB, else the built-in names. Everything comes from the one payload row
    (read in one statement), so a BLOB being loaded meanwhile is seen whole or not at all."""
    text = meta.get(PAYLOAD_KEY)
    if text is None:
        return KeyCatalogue.builtin()
    started = time.monotonic()
    try:
        payload = json.loads(text)
        number, next_update = int(payload["no"]), date.fromisoformat(payload["nextUpdate"])
    except (ValueError, KeyError, TypeError):
        raise StoreError("the stored FIDO metadata cannot be read", remedy=RELOAD_REMEDY) from None
    catalogue = KeyCatalogue.from_payload(payload, f"FIDO MDS BLOB no. {number} (nextUpdate {next_update})")
    log.info("FIDO metadata: %s, %d models, indexed in %.0f ms", catalogue.source, len(catalogue),
             (time.monotonic() - started) * 1000)
    if next_update < datetime.now(UTC).date():
        log.warning("the stored FIDO metadata's nextUpdate (%s) has passed: %s", next_update, RELOAD_REMEDY)
    return catalogue
