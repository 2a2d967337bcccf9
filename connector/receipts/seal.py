"""Sealing a receipt: its canonical bytes, the connector's Ed25519 key, the signature.

The canonical form is the JSON text with keys sorted, no whitespace, UTF-8 and no escaping beyond JSON's own
(receipts hold strings, integers, booleans and nulls only: no floats). The signature covers the canonical form
of the receipt whose `seal` holds everything but `signature`; the file attached is the canonical form of the
whole receipt, so its SHA-256 is the receipt's hash, the one the next receipt names (docs/receipt-format.md).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

log = logging.getLogger(__name__)
ALGORITHM = "Ed25519"


class ReceiptKeyError(ValueError):
    """The key file exists but holds no usable Ed25519 private key."""


def canonical(document: Any) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def signed_part(document: dict[str, Any]) -> bytes:
    """What the signature covers: the receipt with its seal minus the signature itself."""
    seal = {key: value for key, value in (document.get("seal") or {}).items() if key != "signature"}
    return canonical({**document, "seal": seal})


def key_id(public_raw: bytes) -> str:
    return hashlib.sha256(public_raw).hexdigest()[:16]


class SealKey:
    """The connector's signing key. Its public half is in every receipt and in `status`."""

    def __init__(self, private: Ed25519PrivateKey):
        self._private = private
        self.public_raw = private.public_key().public_bytes(serialization.Encoding.Raw,
                                                            serialization.PublicFormat.Raw)

    def __repr__(self) -> str:
        return f"SealKey(key_id={self.key_id})"

    @property
    def key_id(self) -> str:
        return key_id(self.public_raw)

    @property
    def public_base64(self) -> str:
        return base64.b64encode(self.public_raw).decode()

    def public_pem(self) -> str:
        return self._private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def seal(self, document: dict[str, Any]) -> bytes:
        """The receipt's file: `document` with its seal, in canonical form."""
        unsigned = {**document, "seal": {"algorithm": ALGORITHM, "public_key": self.public_base64,
                                         "key_id": self.key_id}}
        signature = self._private.sign(signed_part(unsigned))
        unsigned["seal"]["signature"] = base64.b64encode(signature).decode()
        return canonical(unsigned)

    @classmethod
    def generate(cls) -> SealKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def load_or_create(cls, path: Path) -> SealKey:
        """The key in `path` (PKCS#8 PEM); a new one written there, readable by its owner alone, if none is."""
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            created = cls.generate()
            pem = created._private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption())
            try:
                descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another process on this host made it first: use that one
                return cls.load(path)
            with os.fdopen(descriptor, "wb") as file:
                file.write(pem)
            log.info("receipt signing key created in %s (key id %s)", path, created.key_id)
            return created
        return cls.load(path)

    @classmethod
    def load(cls, path: Path) -> SealKey:
        try:
            private = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError) as exc:
            raise ReceiptKeyError(f"receipt signing key {path}: cannot be read as a PEM Ed25519 private key "
                             f"({type(exc).__name__})") from None
        if not isinstance(private, Ed25519PrivateKey):
            raise ReceiptKeyError(f"receipt signing key {path}: not an Ed25519 key")
        return cls(private)


def public_key_from_text(text: str) -> bytes:
    """A public key given as PEM, or as base64 of its 32 raw bytes: the raw bytes."""
    stripped = text.strip()
    if "-----BEGIN" in stripped:  # what `receipt-key` prints: a comment line, then the PEM
        key = serialization.load_pem_public_key(stripped[stripped.index("-----BEGIN"):].encode())
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("not an Ed25519 public key")
        return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    raw = base64.b64decode(stripped, validate=True)
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    return raw
