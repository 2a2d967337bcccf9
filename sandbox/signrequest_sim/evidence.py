"""The files SignRequest makes once everyone signed: the signed PDF and the signing log (audit trail)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from sandbox.pdfgen import append_pages, text_pdf
from sandbox.signrequest_sim.state import Document

SIGNER_IP = "127.0.0.1"


def utc(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def signed_pdf(document: Document) -> bytes:
    lines = ["Signature page - SignRequest sandbox (no legal value)", f"Document: {document.name}", ""]
    for signer in document.required():
        name = signer.signed_name or signer.full_name or signer.email
        lines.append(f"Signed by {name} <{signer.email}> on {utc(signer.signed_on or 0)} from IP {SIGNER_IP}")
    return append_pages(document.content, [lines])


def signing_log(document: Document, signed: bytes) -> bytes:
    header = [
        "Signing log - SignRequest sandbox", f"Document: {document.name} ({document.uuid})",
        f"Original document SHA-256: {hashlib.sha256(document.content).hexdigest()}",
        f"Signed document SHA-256: {hashlib.sha256(signed).hexdigest()}", "",
    ]
    events = [f"{utc(at)}  {what}  (IP {SIGNER_IP})" for at, what in document.log]
    per_page = 40
    later_pages = [events[i:i + per_page] for i in range(per_page, len(events), per_page)]
    pages = [header + events[:per_page], *later_pages]
    return text_pdf(pages, title=f"Signing log {document.name}")
