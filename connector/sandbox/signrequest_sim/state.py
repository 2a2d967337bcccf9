"""Documents, signers and their status machine, as SignRequest keeps them."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from connector.sandbox.pdfgen import append_pages, text_pdf

FINAL = {"si", "de", "ca", "xp", "sd", "do"}


@dataclass
class Signer:
    email: str
    first_name: str = ""
    last_name: str = ""
    order: int = 0
    needs_to_sign: bool = True
    verify_phone_number: str | None = None
    language: str | None = None
    key: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    emailed: bool = False
    viewed: bool = False
    signed: bool = False
    signed_on: datetime | None = None
    declined: bool = False
    declined_on: datetime | None = None
    message: str | None = None
    sms_code: str = field(default_factory=lambda: f"{secrets.randbelow(10**6):06d}")
    sms_verified: bool = False


@dataclass
class Document:
    uuid: str
    name: str
    content: bytes
    external_id: str | None
    events_callback_url: str | None
    auto_expire_days: int | None
    auto_delete_days: int | None
    created: datetime
    status: str = "co"
    signrequest: dict | None = None  # uuid, from_email, subject, message, who, send_reminders, ...
    signers: list[Signer] = field(default_factory=list)
    signed_pdf: bytes | None = None
    signing_log: bytes | None = None
    log: list[tuple[datetime, str]] = field(default_factory=list)
    reminders: int = 0


class Store:
    """All documents, and short-lived tokens for their file URLs."""

    def __init__(self, clock=lambda: datetime.now(UTC), monotonic=time.monotonic):
        self.monotonic = monotonic  # file links expire on this clock; tests move it
        self.lock = threading.RLock()
        self.documents: dict[str, Document] = {}
        self.file_tokens: dict[str, tuple[str, str, float]] = {}  # token -> (document uuid, kind, expiry)
        self.clock = clock
        self.create_calls = 0

    def add(self, name: str, content: bytes, external_id: str | None, callback: str | None,
            expire_days: int | None, delete_days: int | None) -> Document:
        document = Document(str(uuid.uuid4()), name, content, external_id, callback, expire_days, delete_days,
                            self.clock())
        document.log.append((self.clock(), "Document uploaded"))
        self.documents[document.uuid] = document
        return document

    def file_url(self, base: str, document: Document, kind: str) -> str:
        now = self.monotonic()
        token = secrets.token_urlsafe(18)
        with self.lock:  # API handlers and the callback thread mint links concurrently
            if len(self.file_tokens) > 5000:  # every read mints fresh links; forget the expired ones
                self.file_tokens = {t: e for t, e in self.file_tokens.items() if e[2] >= now}
            self.file_tokens[token] = (document.uuid, kind, now + 300)  # valid for 5 minutes
        suffix = {"original": "original", "pdf": "signed", "signing_log": "signing-log"}[kind]
        return f"{base}/files/{token}/{suffix}.pdf"

    def file_for(self, token: str) -> bytes | None:
        with self.lock:
            entry = self.file_tokens.get(token)
            if entry is None or entry[2] < self.monotonic():
                return None
            document = self.documents[entry[0]]
        return {"original": document.content, "pdf": document.signed_pdf, "signing_log": document.signing_log}[entry[1]]

    def by_signer_key(self, key: str) -> tuple[Document, Signer] | None:
        for document in self.documents.values():
            for signer in document.signers:
                if signer.key == key:
                    return document, signer
        return None


def required(document: Document) -> list[Signer]:
    return [s for s in document.signers if s.needs_to_sign]


def waiting_for(document: Document, signer: Signer) -> Signer | None:
    """The earlier signer this one waits for, if any (signing order)."""
    return next((s for s in required(document) if s.order < signer.order and not s.signed), None)


def finish_signing(document: Document, now: datetime) -> None:
    lines = [f"Signed by {s.first_name} {s.last_name} <{s.email}> on {s.signed_on:%Y-%m-%d %H:%M:%S} UTC"
             for s in required(document)]
    document.signed_pdf = append_pages(document.content, [["Signature page (SignRequest sandbox)", "", *lines]])
    document.log.append((now, "Document signed by all parties"))
    events = [f"{at:%Y-%m-%d %H:%M:%S} UTC  {what}  (IP 127.0.0.1)" for at, what in document.log]
    digest = hashlib.sha256(document.content).hexdigest()
    document.signing_log = text_pdf([["Signing log (SignRequest sandbox)", f"Document: {document.name}",
                                      f"Document SHA-256: {digest}", "", *events]], title="Signing log")
    document.status = "si"


def expiry(document: Document) -> datetime | None:
    if document.auto_expire_days:
        return document.created + timedelta(days=document.auto_expire_days)
    return None
