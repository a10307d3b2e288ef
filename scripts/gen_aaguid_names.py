"""Generate station/keys/data/aaguid-names.json — the built-in AAGUID → model name table.

Only names that come from FIDO Metadata Service data are shipped: the description of every FIDO2 entry of
an MDS3 payload, plus the names a list records as taken from another MDS BLOB. Names from community lists
without a licence are left out.

    python scripts/gen_aaguid_names.py REAL_KEYS_DIR > station/keys/data/aaguid-names.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

MDS_SOURCES = ("s1r-J/fido-mds3", "sumup/aaguids-go")


def main(real_keys: Path) -> None:
    payload = json.loads((real_keys / "mds3-payload-2025-05.json").read_text())
    listed = json.loads((real_keys / "aaguid-names.json").read_text())["map"]
    names: dict[str, str] = {}
    for aaguid, entry in listed.items():
        if any(source.startswith(MDS_SOURCES) for source in entry["sources"]):
            names[aaguid.lower()] = entry["name"]
    for entry in payload["entries"]:
        statement = entry.get("metadataStatement") or {}
        if entry.get("aaguid") and statement.get("description"):
            names[entry["aaguid"].lower()] = statement["description"]
    table = {
        "_source": f"FIDO MDS3 BLOB no. {payload['no']} (nextUpdate {payload['nextUpdate']}) and an earlier MDS "
                   "BLOB; MDS content is subject to https://fidoalliance.org/metadata/metadata-legal-terms/",
        "names": dict(sorted(names.items())),
    }
    json.dump(table, sys.stdout, indent=0, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
