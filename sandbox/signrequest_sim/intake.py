"""Turning checked request fields into a new document and its signers."""

from __future__ import annotations

import io
import uuid

from pypdf import PdfReader
from pypdf.errors import PyPdfError

from sandbox.signrequest_sim.state import Document, Signer

DOCUMENT_OPTIONS = ("external_id", "frontend_id", "events_callback_url", "auto_expire_days",
                    "auto_delete_days")
SIGNER_COLUMNS = ("email", "order", "needs_to_sign", "first_name", "last_name", "message")


def convertible(content: bytes) -> bool:
    """Whether the sandbox can "convert" the upload: only readable, unencrypted PDFs."""
    if not content.startswith(b"%PDF-"):
        return False
    try:
        reader = PdfReader(io.BytesIO(content))
        return not reader.is_encrypted and len(reader.pages) > 0
    except (PyPdfError, ValueError, OSError):
        return False


def new_document(cleaned: dict, now: float) -> Document:
    filename = cleaned["filename"]
    document = Document(uuid=str(uuid.uuid4()), name=cleaned.get("name") or filename, filename=filename,
                        content=cleaned["content"], created=now,
                        options={key: cleaned.get(key) for key in DOCUMENT_OPTIONS})
    document.log.append((now, f"Document {document.name} uploaded through the API"))
    return document


def signers_for(listed: list[dict], sender_email: str, who: str) -> list[Signer]:
    signers = [Signer(email=s["email"], order=s.get("order") or 0, needs_to_sign=s.get("needs_to_sign", True),
                      first_name=s.get("first_name") or "", last_name=s.get("last_name") or "",
                      message=s.get("message"),
                      options={k: v for k, v in s.items() if k not in SIGNER_COLUMNS})
               for s in listed]
    if not any(s.email.lower() == sender_email.lower() for s in signers):
        # SignRequest always lists the sender first; with who=o the sender only gets copies.
        signers.insert(0, Signer(email=sender_email, order=0, needs_to_sign=who in ("m", "mo")))
    return signers
