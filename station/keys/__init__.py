"""What a key model is: FIDO Metadata Service (MDS3) data and the names, statuses and roots drawn from it.

``blob`` verifies an MDS3 BLOB an administrator downloaded (python-fido2's ``fido2.mds3`` against FIDO's
root, GlobalSign Root CA - R3, shipped in ``data/``); ``persist`` keeps the verified payload in the store so
every station sharing it sees the same metadata; ``catalogue`` indexes it by AAGUID once (names, status
reports, certification level, attestation roots), with a built-in name table from MDS data when no BLOB is
loaded; ``attestation`` checks a new credential's attestation against the model's MDS roots.
"""
