"""`station emulate entra --trust-root PEM` and `--no-attestation-enforced`: the emulated tenant, run by its
command over real HTTPS with a real msal token, trusts the attestation roots an administrator names.

A "foreign" key — a packed attestation from a CA made here, as a real model's would chain to its vendor's
root — is refused by a tenant that enforces attestation and does not know the root, accepted as attested
once `--trust-root` names it, and accepted as not attested when enforcement is off.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import UUID

import msal
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, ObjectIdentifier
from fido2.cose import ES256
from fido2.utils import websafe_decode, websafe_encode
from fido2.webauthn import AttestationObject, AttestedCredentialData, AuthenticatorData, CollectedClientData

FOREIGN_AAGUID = UUID("f0e1d2c3-b4a5-4697-8899-aabbccddeeff")
SCOPE = ["https://graph.microsoft.com/.default"]


class ForeignModel:
    """A key model whose attestation chains to a vendor root of its own."""

    def __init__(self) -> None:
        now = datetime.datetime.now(datetime.UTC)
        self._root_key = ec.generate_private_key(ec.SECP256R1())
        root_name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "SE"),
                               x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Foreign Keys AB"),
                               x509.NameAttribute(NameOID.COMMON_NAME, "Foreign Keys FIDO Root CA")])
        self.root = (x509.CertificateBuilder().subject_name(root_name).issuer_name(root_name)
                     .public_key(self._root_key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(days=1))
                     .not_valid_after(now + datetime.timedelta(days=365))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .sign(self._root_key, hashes.SHA256()))
        self._leaf_key = ec.generate_private_key(ec.SECP256R1())
        self.leaf = (x509.CertificateBuilder()
                     .subject_name(x509.Name([
                         x509.NameAttribute(NameOID.COUNTRY_NAME, "SE"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Foreign Keys AB"),
                         x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Authenticator Attestation"),
                         x509.NameAttribute(NameOID.COMMON_NAME, "Foreign Key Batch 1")]))
                     .issuer_name(root_name).public_key(self._leaf_key.public_key())
                     .serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(days=1))
                     .not_valid_after(now + datetime.timedelta(days=365))
                     .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                     .add_extension(x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.45724.1.1.4"),
                                                               b"\x04\x10" + FOREIGN_AAGUID.bytes), critical=False)
                     .sign(self._root_key, hashes.SHA256()))

    def root_pem(self) -> bytes:
        return self.root.public_bytes(serialization.Encoding.PEM)

    def register_body(self, options: dict[str, Any]) -> dict[str, Any]:
        """The fido2Methods body a key of this model would produce for ``options`` (UP and UV, packed)."""
        public_key = options["publicKey"]
        client_data = CollectedClientData.create("webauthn.create", websafe_decode(public_key["challenge"]),
                                                 "https://login.microsoft.com")
        credential_key = ec.generate_private_key(ec.SECP256R1())
        credential_id = os.urandom(32)
        flags = AuthenticatorData.FLAG.UP | AuthenticatorData.FLAG.UV | AuthenticatorData.FLAG.AT
        auth_data = AuthenticatorData.create(
            hashlib.sha256(public_key["rp"]["id"].encode()).digest(), flags, 0,
            AttestedCredentialData.create(FOREIGN_AAGUID.bytes, credential_id,
                                          ES256.from_cryptography_key(credential_key.public_key())))
        signature = self._leaf_key.sign(bytes(auth_data) + client_data.hash, ec.ECDSA(hashes.SHA256()))
        attestation = AttestationObject.create("packed", auth_data, {
            "alg": -7, "sig": signature, "x5c": [self.leaf.public_bytes(serialization.Encoding.DER)]})
        return {"displayName": "Foreign key", "publicKeyCredential": {
            "id": websafe_encode(credential_id),
            "response": {"clientDataJSON": websafe_encode(bytes(client_data)),
                         "attestationObject": websafe_encode(bytes(attestation))},
            "clientExtensionResults": {}}}


@contextmanager
def tenant(tmp_path: Path, *flags: str) -> Iterator[tuple[requests.Session, str, str]]:
    """`station emulate entra FLAGS…` as a process; yields an authorised session, the Graph URL and its banner."""
    info_file = tmp_path / f"emulator-{len(list(tmp_path.iterdir()))}.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "station.cli", "emulate", "entra", "--users", "2", "--info-json", str(info_file),
         *flags], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert process.stdout is not None
        banner = "".join(process.stdout.readline() for _ in range(6))
        assert banner.startswith("Entra emulator listening on https://127.0.0.1:"), banner + process.stderr.read()
        info = json.loads(info_file.read_text())
        session = requests.Session()
        session.trust_env = False
        session.verify = info["ca_file"]
        app = msal.ConfidentialClientApplication(info["client_id"], client_credential=info["client_secret"],
                                                 authority=info["authority"], instance_discovery=False,
                                                 http_client=session)
        session.headers["Authorization"] = "Bearer " + app.acquire_token_for_client(scopes=SCOPE)["access_token"]
        yield session, info["graph_url"], banner
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0


def register(session: requests.Session, graph: str, model: ForeignModel) -> requests.Response:
    user = session.get(f"{graph}/v1.0/users", timeout=10).json()["value"][0]["id"]
    methods = f"{graph}/v1.0/users/{user}/authentication/fido2Methods"
    options = session.get(f"{methods}/creationOptions", timeout=10)
    assert options.status_code == 200, options.text
    return session.post(methods, json=model.register_body(options.json()), timeout=10)


def test_an_extra_trusted_root_admits_its_keys_under_enforcement(tmp_path: Path) -> None:
    model = ForeignModel()
    root = tmp_path / "foreign-root.pem"
    root.write_bytes(model.root_pem())

    with tenant(tmp_path) as (session, graph, banner):
        assert "attestation enforced; 1 trusted root(s)" in banner
        refused = register(session, graph, model)
        assert refused.status_code == 400
        assert "The attestation is not trusted" in refused.text

    with tenant(tmp_path, "--trust-root", str(root)) as (session, graph, banner):
        assert "attestation enforced; 2 trusted root(s)" in banner
        accepted = register(session, graph, model)
        assert accepted.status_code == 201, accepted.text
        assert accepted.json()["aaGuid"] == str(FOREIGN_AAGUID)
        assert accepted.json()["attestationLevel"] == "attested"


def test_without_enforcement_an_unknown_root_is_registered_as_not_attested(tmp_path: Path) -> None:
    with tenant(tmp_path, "--no-attestation-enforced") as (session, graph, banner):
        assert "attestation not enforced" in banner
        accepted = register(session, graph, ForeignModel())
        assert accepted.status_code == 201, accepted.text
        assert accepted.json()["attestationLevel"] == "notAttested"


def test_a_trust_root_that_is_no_certificate_is_refused_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "not-a-cert.pem"
    bad.write_text("hello\n")
    result = subprocess.run([sys.executable, "-m", "station.cli", "emulate", "entra", "--trust-root", str(bad)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert f"argument --trust-root: {bad} holds no PEM certificate" in result.stderr
