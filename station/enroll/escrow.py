"""PIN escrow: a PIN sealed to the operator's public key, opened only with the operator's private key.

Two schemes, chosen by the public key's type:

* ``x25519`` — a sealed box: an ephemeral X25519 key agrees a secret with the recipient key, HKDF-SHA256
  (salt = ephemeral ‖ recipient public key) derives a ChaCha20-Poly1305 key, which encrypts the PIN;
  ``ephemeral public key ‖ nonce ‖ ciphertext`` is stored.
* ``rsa-oaep`` — RSA-OAEP with SHA-256 for an operator who already holds an RSA key pair.

A context string (the enrolment it belongs to) is bound as associated data / OAEP label, so a sealed
PIN cannot be moved to another person's row and still open. Sealed text looks like
``x25519:v1:<base64>``. Nothing here logs a PIN.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, x25519
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from station.enroll.escrow_key import EscrowError as EscrowError
from station.enroll.escrow_key import read_public_key
from station.files import private_dir, write_private_atomically

_X25519 = "x25519:v1:"
_RSA = "rsa-oaep:v1:"
_INFO = b"station pin escrow v1"
PUBLIC_KEY_NAME = "escrow-public.pem"
PRIVATE_KEY_NAME = "escrow-private.pem"

PublicKey = x25519.X25519PublicKey | rsa.RSAPublicKey
PrivateKey = x25519.X25519PrivateKey | rsa.RSAPrivateKey


def context_for(enrolment_id: int) -> str:
    """The context a PIN is sealed under: the enrolment row it belongs to."""
    return f"station enrolment {enrolment_id}"


def handout_pin_context(handout_id: int) -> str:
    """The context the PIN of a key prepared for a hand-out is sealed under: that hand-out (never its TAP's)."""
    return f"station handout {handout_id} key PIN"


class Escrow:
    """Seals PINs to one public key. Safe to share between threads."""

    def __init__(self, public_key: PublicKey) -> None:
        self.public_key = public_key

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Escrow:
        return cls(load_public_key(read_public_key(path)))

    def seal(self, pin: str, context: str) -> str:
        if isinstance(self.public_key, rsa.RSAPublicKey):
            ct = self.public_key.encrypt(pin.encode(), _oaep(context))
            return _RSA + base64.b64encode(ct).decode()
        ephemeral = x25519.X25519PrivateKey.generate()
        eph_pub = ephemeral.public_key().public_bytes_raw()
        key = _derive(ephemeral.exchange(self.public_key), eph_pub, self.public_key.public_bytes_raw())
        nonce = os.urandom(12)
        ct = ChaCha20Poly1305(key).encrypt(nonce, pin.encode(), context.encode())
        return _X25519 + base64.b64encode(eph_pub + nonce + ct).decode()


def open_sealed(private_key: PrivateKey, sealed: str, context: str) -> str:
    """The PIN inside ``sealed``. EscrowError when the key or the context does not match."""
    try:
        if sealed.startswith(_RSA) and isinstance(private_key, rsa.RSAPrivateKey):
            return private_key.decrypt(base64.b64decode(sealed[len(_RSA):]), _oaep(context)).decode()
        if sealed.startswith(_X25519) and isinstance(private_key, x25519.X25519PrivateKey):
            raw = base64.b64decode(sealed[len(_X25519):])
            eph_pub, nonce, ct = raw[:32], raw[32:44], raw[44:]
            own_pub = private_key.public_key().public_bytes_raw()
            shared = private_key.exchange(x25519.X25519PublicKey.from_public_bytes(eph_pub))
            return ChaCha20Poly1305(_derive(shared, eph_pub, own_pub)).decrypt(nonce, ct, context.encode()).decode()
    except (InvalidTag, ValueError) as e:
        raise EscrowError(f"a sealed PIN does not open with this key ({type(e).__name__})") from None
    raise EscrowError("a sealed PIN was made for a different kind of key than the one given")


def load_public_key(pem: bytes) -> PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError as e:
        raise EscrowError(f"the escrow public key is not a PEM public key: {e}") from None
    if not isinstance(key, x25519.X25519PublicKey | rsa.RSAPublicKey):
        raise EscrowError(f"escrow keys must be X25519 or RSA, not {type(key).__name__}")
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < 2048:
        raise EscrowError("an RSA escrow key must have at least 2048 bits")
    return key


def private_key_is_encrypted(pem: bytes) -> bool:
    """Whether a PEM private key needs a passphrase (PKCS#8 encrypted, or a traditional encrypted PEM)."""
    return b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in pem or b"Proc-Type: 4,ENCRYPTED" in pem


def load_private_key(pem: bytes, password: bytes | None = None) -> PrivateKey:
    encrypted = private_key_is_encrypted(pem)
    if encrypted and not password:
        raise EscrowError("the escrow private key is encrypted and no passphrase was given",
                          remedy="Give its passphrase: on a terminal when asked, or with --passphrase-file FILE.")
    try:
        key = serialization.load_pem_private_key(pem, password=password if encrypted else None)
    except (ValueError, TypeError) as e:
        if encrypted:
            raise EscrowError("the passphrase does not open the escrow private key",
                              remedy="Give the passphrase the key was made with "
                                     "('station pins keygen --passphrase').") from None
        raise EscrowError(f"the escrow private key could not be loaded: {e}") from None
    if not isinstance(key, x25519.X25519PrivateKey | rsa.RSAPrivateKey):
        raise EscrowError(f"escrow keys must be X25519 or RSA, not {type(key).__name__}")
    return key


def generate_keypair(out_dir: str | os.PathLike[str], passphrase: bytes | None = None) -> tuple[Path, Path]:
    """Write a new X25519 key pair to ``out_dir`` (made 0700 if new), both files 0600 and never overwriting:
    the public key (for the station) and the private key, PKCS#8 encrypted under ``passphrase`` when given."""
    out = private_dir(out_dir)
    pub_path, priv_path = out / PUBLIC_KEY_NAME, out / PRIVATE_KEY_NAME
    for p in (pub_path, priv_path):
        if p.exists() or p.is_symlink():
            raise EscrowError(f"{p} already exists", remedy="Choose an empty directory; keys are never overwritten.")
    private = x25519.X25519PrivateKey.generate()
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption())
    write_private_atomically(priv_path, private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption), replace=False)
    write_private_atomically(pub_path, private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo), replace=False)
    return pub_path, priv_path


def _derive(shared: bytes, eph_pub: bytes, recipient_pub: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=eph_pub + recipient_pub, info=_INFO).derive(shared)


def _oaep(context: str) -> padding.OAEP:
    return padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=context.encode())
