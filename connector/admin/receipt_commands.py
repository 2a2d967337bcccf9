"""`verify-receipt` (offline: no settings, no database) and `receipt-key` (the public key to publish)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from connector.receipts.seal import SealKey, public_key_from_text
from connector.receipts.verify import verify_receipt


def add_parsers(sub: argparse._SubParsersAction) -> None:
    verify = sub.add_parser("verify-receipt", help="check a signing receipt offline: seal, chain link, signed PDF")
    verify.add_argument("file", help="the receipt's JSON file")
    verify.add_argument("--signed-pdf", help="a signed PDF: its SHA-256 must be one the receipt lists")
    verify.add_argument("--public-key", help="the connector's public key (PEM or base64 file): the seal must be its")
    verify.add_argument("--previous", help="the receipt issued just before: this one must name its hash")
    sub.add_parser("receipt-key", help="print the public key that seals receipts (created if there is none yet)")


def cmd_verify_receipt(args: argparse.Namespace) -> int:
    try:
        receipt = _read(args.file, "receipt")
        public_key = _public_key(args.public_key) if args.public_key else None
        previous = _read(args.previous, "previous receipt") if args.previous else None
        signed_pdf = _read(args.signed_pdf, "signed PDF") if args.signed_pdf else None
    except _Unusable as exc:
        print(f"FAIL {exc}", file=sys.stderr)
        return 2
    checks = verify_receipt(receipt, public_key=public_key, previous=previous, signed_pdf=signed_pdf)
    for check in checks:
        print(check)
    failed = [check for check in checks if not check.ok]
    print(f"receipt {args.file}: " + ("VALID" if not failed else f"INVALID ({', '.join(c.name for c in failed)})"))
    return 1 if failed else 0


def cmd_receipt_key(args: argparse.Namespace) -> int:
    from config.settings import Settings

    path = Settings().receipt_key_path
    try:
        key = SealKey.load_or_create(path)
    except ValueError as exc:
        print(f"FAIL {exc}", file=sys.stderr)
        return 2
    print(f"# receipt signing key {path}, key id {key.key_id}; base64: {key.public_base64}")
    print(key.public_pem(), end="")
    return 0


def key_status(path: Path) -> str:
    """The line `status` prints: the key receipts are sealed with, or why there is none."""
    if not path.exists():
        return f"receipt key: none yet at {path} (created at the first start, or by `receipt-key`)"
    try:
        key = SealKey.load(path)
    except ValueError as exc:
        return f"receipt key: {exc}"
    return f"receipt key: {key.key_id} Ed25519 public key (base64) {key.public_base64} ({path})"


class _Unusable(Exception):  # noqa: N818 - an argument that names no readable file
    pass


def _public_key(path: str) -> bytes:
    try:
        return public_key_from_text(_read(path, "public key").decode("utf-8", "replace"))
    except (ValueError, TypeError) as exc:
        raise _Unusable(f"public key {path}: not an Ed25519 public key in PEM or base64 ({exc})") from None


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise _Unusable(f"{what} {path}: cannot be read ({exc.strerror})") from None
