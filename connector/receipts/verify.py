"""Checking a receipt offline: its form, its seal, its key, its link to the previous receipt, a signed PDF's hash.

Each check says what it found; the first that fails names what was changed. Nothing here needs the network,
the state database or the provider.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from connector.receipts.document import FORMAT, VERSION
from connector.receipts.seal import ALGORITHM, canonical, key_id, signed_part

_REQUIRED = ("format", "version", "sequence", "previous_receipt_sha256", "issued_at", "job_id", "outcome",
             "opportunity", "rule", "provider", "documents_sent", "files_returned", "signers", "timeline", "seal")


_TYPES: dict[str, tuple[type, ...]] = {
    "sequence": (int,), "previous_receipt_sha256": (str, type(None)), "job_id": (str,), "outcome": (str,),
    "opportunity": (dict,), "rule": (dict,), "provider": (dict,), "documents_sent": (list,),
    "files_returned": (list,), "signers": (list,), "timeline": (list,), "seal": (dict,)}


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    message: str

    def __str__(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.name}: {self.message}"


class _Unreadable(Exception):  # noqa: N818 - a check's failure, reported as such
    pass


def verify_receipt(receipt: bytes, *, public_key: bytes | None = None, previous: bytes | None = None,
                   signed_pdf: bytes | None = None) -> list[Check]:
    """Every check that applies, in order; verification stops at the first failure of the receipt's own form."""
    checks: list[Check] = []
    try:
        document = _read(receipt, "receipt")
    except _Unreadable as exc:
        return [Check("receipt", False, str(exc))]
    checks.append(Check("receipt", True, f"receipt {document['sequence']} of job {document['job_id']}, "
                                        f"{document['outcome']}, sha256 {hashlib.sha256(receipt).hexdigest()}"))
    seal = checks_seal(document, "seal")
    checks.append(seal)
    if not seal.ok:
        return checks
    if public_key is not None:
        embedded = _public_raw(document)
        checks.append(Check("public key", embedded == public_key,
                            f"sealed with the key given (key id {key_id(public_key)})" if embedded == public_key else
                            f"sealed with key id {key_id(embedded)}, not with the key given (key id "
                            f"{key_id(public_key)})"))
    if previous is not None:
        checks.append(_chain(document, previous))
    if signed_pdf is not None:
        checks.append(_signed_pdf(document, signed_pdf))
    return checks


def checks_seal(document: dict[str, Any], name: str) -> Check:
    seal = document["seal"]
    try:
        key = Ed25519PublicKey.from_public_bytes(_public_raw(document))
        key.verify(base64.b64decode(seal.get("signature", ""), validate=True), signed_part(document))
    except (InvalidSignature, ValueError, binascii.Error, TypeError):
        return Check(name, False, "the Ed25519 signature does not match the receipt's content: the receipt was "
                                  "altered after it was sealed (or sealed by another key than the one it names)")
    return Check(name, True, f"Ed25519 signature valid (key id {seal.get('key_id')})")


def _chain(document: dict[str, Any], previous: bytes) -> Check:
    try:
        before = _read(previous, "previous receipt")
    except _Unreadable as exc:
        return Check("chain", False, str(exc))
    if not checks_seal(before, "previous seal").ok:
        return Check("chain", False, "the previous receipt's seal is broken: it was altered after it was sealed")
    digest = hashlib.sha256(previous).hexdigest()
    if document["previous_receipt_sha256"] != digest:
        return Check("chain", False, f"this receipt follows sha256 {document['previous_receipt_sha256']}, but the "
                                     f"previous receipt given hashes to {digest}: not the receipt before it, or "
                                     "altered")
    if document["sequence"] != before["sequence"] + 1:
        return Check("chain", False, f"numbered {document['sequence']}, the previous receipt {before['sequence']}")
    return Check("chain", True, f"follows receipt {before['sequence']} (sha256 {digest})")


def _signed_pdf(document: dict[str, Any], pdf: bytes) -> Check:
    digest = hashlib.sha256(pdf).hexdigest()
    signed = [f for f in document["files_returned"] if isinstance(f, dict) and f.get("kind") == "signed"]
    match = next((f for f in signed if f.get("sha256") == digest), None)
    if match is None:
        named = ", ".join(f"{f.get('title')!r} sha256 {f.get('sha256')}" for f in signed) or "none"
        return Check("signed pdf", False, f"the file given hashes to sha256 {digest} ({len(pdf)} bytes); the "
                                          f"receipt's signed files: {named}")
    return Check("signed pdf", True, f"matches {match.get('title')!r} ({match.get('bytes')} bytes, sha256 {digest})")


def _read(data: bytes, what: str) -> dict[str, Any]:
    try:
        document = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates,
                              parse_float=_no_floats, parse_constant=_no_floats)
    except UnicodeDecodeError as exc:
        raise _Unreadable(f"the {what} is not UTF-8 (byte {exc.start}): altered or not a receipt") from None
    except json.JSONDecodeError as exc:
        raise _Unreadable(f"the {what} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}): "
                          "altered or not a receipt") from None
    except ValueError as exc:
        raise _Unreadable(f"the {what} is not a receipt: {exc}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise _Unreadable(f"the {what} is not an esign-connector receipt (no format {FORMAT!r})")
    if document.get("version") != VERSION:
        raise _Unreadable(f"the {what} is version {document.get('version')!r}; this verifier reads version {VERSION}")
    missing = [key for key in _REQUIRED if key not in document]
    if missing:
        raise _Unreadable(f"the {what} lacks {', '.join(missing)}")
    for key, kinds in _TYPES.items():
        if not isinstance(document[key], kinds) or isinstance(document[key], bool) and bool not in kinds:
            raise _Unreadable(f"the {what}'s {key} is not of its type ({type(document[key]).__name__})")
    seal = document["seal"]
    if not isinstance(seal, dict) or seal.get("algorithm") != ALGORITHM:
        raise _Unreadable(f"the {what}'s seal is not {ALGORITHM}")
    if canonical(document) != data:
        raise _Unreadable(f"the {what} is not in its canonical form (sorted keys, no spaces): its bytes were "
                          "changed or re-formatted after it was issued, so its hash no longer matches the chain")
    return document


def _public_raw(document: dict[str, Any]) -> bytes:
    try:
        raw = base64.b64decode(str(document["seal"].get("public_key", "")), validate=True)
    except (binascii.Error, ValueError):
        return b""
    return raw


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"a key appears twice in one object ({sorted({k for k in keys if keys.count(k) > 1})})")
    return dict(pairs)


def _no_floats(text: str) -> Any:
    raise ValueError(f"a receipt holds no fractional or special numbers ({text})")
