"""`station mds load` and `station mds show`: a BLOB signed by a test CA (the real May 2025 payload) is
verified against the root it names, stored in the store and shown; a tampered BLOB, a BLOB from another
signer and a non-JWT are refused with one line and change nothing; a past nextUpdate is a warning."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fido2.utils import websafe_encode
from mds_blob import REVOKED_AAGUID, YUBIKEY_5_AAGUID, TestMds, real_payload

from station.cli import main

FUTURE = "2099-01-01"


@pytest.fixture(scope="module")
def mds() -> TestMds:
    return TestMds()


@pytest.fixture
def root_file(tmp_path: Path, mds: TestMds) -> Path:
    path = tmp_path / "test-mds-root.pem"
    path.write_bytes(mds.root_pem)
    return path


def _small_payload(**changes: str) -> dict[str, object]:
    payload = real_payload(**changes)
    payload["entries"] = [e for e in payload["entries"] if e.get("aaguid") in (YUBIKEY_5_AAGUID, REVOKED_AAGUID)]
    return payload


def _load(tmp_path: Path, blob: bytes, *extra: str) -> int:
    path = tmp_path / "blob.jwt"
    path.write_bytes(blob)
    return main(["mds", "load", str(path), *extra])


def test_the_real_payload_loads_and_every_model_can_be_shown(tmp_path: Path, mds: TestMds, root_file: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert _load(tmp_path, mds.blob(real_payload(nextUpdate=FUTURE)), "--trust-root", str(root_file)) == 0
    out, err = capsys.readouterr()
    assert "loaded MDS BLOB no. 163" in out and "239 FIDO2 models" in out
    assert "warning" not in err

    assert main(["mds", "show", YUBIKEY_5_AAGUID]) == 0
    out = capsys.readouterr().out
    assert out.startswith("YubiKey 5 Series  (AAGUID cb69481e-8ff7-4039-93ec-0a2729a154a8)")
    assert "FIDO MDS BLOB no. 163 (nextUpdate 2099-01-01), loaded 20" in out
    assert "signed by CN=mds.test.invalid,O=Station Tests" in out
    assert "certification  FIDO_CERTIFIED_L1" in out
    assert "1 attestation root certificate(s)" in out
    assert "REFUSED" not in out

    assert main(["mds", "show", REVOKED_AAGUID]) == 0
    out = capsys.readouterr().out
    assert "TruU Windows Authenticator" in out
    assert "REFUSED        REVOKED" in out


def test_a_tampered_blob_is_refused_and_nothing_is_stored(tmp_path: Path, mds: TestMds, root_file: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    header, payload, signature = mds.blob(_small_payload(nextUpdate=FUTURE)).split(b".")
    forged = b".".join([header, payload, signature[:-6] + (b"AAAAAA" if signature[-6:] != b"AAAAAA" else b"BBBBBB")])
    assert _load(tmp_path, forged, "--trust-root", str(root_file)) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[0] == ("station: the MDS BLOB's signature or certificate chain does not verify against "
                                   "the trusted root; it was not loaded")
    assert "mds3.fidoalliance.org" in err
    assert main(["mds", "show", YUBIKEY_5_AAGUID]) == 0
    assert "built-in names (no FIDO metadata loaded)" in capsys.readouterr().out


def test_a_blob_not_signed_under_the_trusted_root_is_refused(tmp_path: Path, mds: TestMds,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    # Without --trust-root the BLOB must chain to FIDO's root (GlobalSign Root CA - R3), which the test CA is not.
    assert _load(tmp_path, mds.blob(_small_payload(nextUpdate=FUTURE))) == 2
    assert "does not verify against the trusted root" in capsys.readouterr().err
    other = tmp_path / "other-root.pem"
    other.write_bytes(TestMds().root_pem)
    assert _load(tmp_path, mds.blob(_small_payload(nextUpdate=FUTURE)), "--trust-root", str(other)) == 2


def test_a_past_next_update_is_a_warning_and_the_blob_is_loaded(tmp_path: Path, mds: TestMds, root_file: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert _load(tmp_path, mds.blob(_small_payload(nextUpdate="2025-06-01")), "--trust-root", str(root_file)) == 0
    out, err = capsys.readouterr()
    assert "warning: this BLOB's nextUpdate (2025-06-01) has passed: newer metadata exists; loaded anyway" in err
    assert "loaded MDS BLOB no. 163 (nextUpdate 2025-06-01): 2 FIDO2 models" in out
    assert main(["mds", "show", REVOKED_AAGUID, "--json"]) == 0
    assert '"refused": "REVOKED"' in capsys.readouterr().out


def test_a_file_that_is_no_blob_gets_one_clear_line(tmp_path: Path, root_file: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert _load(tmp_path, b"<html>Not found</html>", "--trust-root", str(root_file)) == 2
    assert capsys.readouterr().err.splitlines()[0] == (
        "station: not an MDS3 BLOB: expected a JWT (three base64url parts separated by dots)")
    assert main(["mds", "load", str(tmp_path / "missing.jwt")]) == 2
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.parametrize(("header", "says"), [
    ({"alg": "none"}, "the MDS BLOB is signed with an unsupported algorithm ('none')"),
    ({"alg": "RS256", "x5c": ["AAAA"]}, "the MDS BLOB cannot be read"),
    ({"alg": "RS256", "x5c": 5}, "the MDS BLOB cannot be read"),
])
def test_a_forged_header_is_refused_with_one_line(tmp_path: Path, mds: TestMds, root_file: Path,
                                                  header: dict[str, object], says: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    _, payload, signature = mds.blob(_small_payload(nextUpdate=FUTURE)).split(b".")
    forged = websafe_encode(json.dumps(header).encode()).encode() + b"." + payload + b"." + signature
    assert _load(tmp_path, forged, "--trust-root", str(root_file)) == 2
    first = capsys.readouterr().err.splitlines()[0]
    assert first.startswith(f"station: {says}") and first.endswith("it was not loaded")
