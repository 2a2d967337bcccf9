"""What the simulated SignRequest team keeps: documents, their signrequest and signers, events, file links."""

from __future__ import annotations

import heapq
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

# Status codes (reference §4.1). A finished document takes no more signer actions.
FINISHED = frozenset({"si", "sd", "do", "de", "ca", "xp"})
AWAITING_SIGNERS = frozenset({"se", "vi"})
FILE_LINK_SECONDS = 300
FILE_NAMES = {"file": "original.pdf", "file_as_pdf": "converted.pdf", "pdf": "signed.pdf",
              "signing_log": "signing-log.pdf"}
ERROR_EVENTS = frozenset({"convert_error", "sending_error", "signer_email_bounced"})


@dataclass
class Signer:
    email: str
    order: int = 0
    needs_to_sign: bool = True
    first_name: str = ""
    last_name: str = ""
    options: dict = field(default_factory=dict)  # the other input fields, echoed back as sent
    message: str | None = None
    key: str = field(default_factory=lambda: secrets.token_urlsafe(16))  # the signing-page link
    emailed: bool = False
    viewed: bool = False
    signed: bool = False
    signed_on: float | None = None
    signed_name: str = ""
    declined: bool = False
    declined_on: float | None = None
    sms_code: str = field(default_factory=lambda: f"{secrets.randbelow(10**6):06d}")
    sms_verified: bool = False

    @property
    def verify_phone_number(self) -> str | None:
        return self.options.get("verify_phone_number") or None

    @property
    def embedded(self) -> bool:
        """Sent with `embed_url_user_id`: reached through its `embed_url`, never invited by email."""
        return bool(self.options.get("embed_url_user_id"))

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


@dataclass
class SignRequest:
    uuid: str
    fields: dict  # from_email, subject, message, who, send_reminders, redirect_url, ... as cleaned


@dataclass
class Document:
    uuid: str
    name: str
    filename: str
    content: bytes
    created: float
    options: dict  # external_id, events_callback_url, frontend_id, auto_expire_days, auto_delete_days
    status: str = "co"
    converted: bool = False
    signrequest: SignRequest | None = None
    signers: list[Signer] = field(default_factory=list)
    signed_pdf: bytes | None = None
    signing_log: bytes | None = None
    finished_on: float | None = None
    log: list[tuple[float, str]] = field(default_factory=list)  # the signing log's lines
    reminders: int = 0

    @property
    def external_id(self) -> str | None:
        return self.options.get("external_id")

    @property
    def callback_url(self) -> str | None:
        return self.options.get("events_callback_url") or None

    @property
    def expires_at(self) -> float | None:
        days = self.options.get("auto_expire_days")
        return self.created + days * 86400 if days else None

    @property
    def deleted_at(self) -> float | None:
        days = self.options.get("auto_delete_days")
        return self.finished_on + days * 86400 if days and self.finished_on is not None else None

    def required(self) -> list[Signer]:
        return [s for s in self.signers if s.needs_to_sign]

    def signer(self, email: str) -> Signer | None:
        return next((s for s in self.signers if s.email.lower() == email.lower()), None)

    def waiting_for(self, signer: Signer) -> Signer | None:
        """The earlier signer this one waits for (a higher order signs after all lower orders)."""
        return next((s for s in self.required() if s.order < signer.order and not s.signed), None)

    def has_turn(self, signer: Signer) -> bool:
        return signer.needs_to_sign and not signer.signed and self.waiting_for(signer) is None


@dataclass
class Event:
    uuid: str
    event_type: str
    at: float
    document: Document  # serialised when read or delivered, so file links are always fresh
    signer: Signer | None

    @property
    def status(self) -> str:
        return "error" if self.event_type in ERROR_EVENTS else "ok"


class Store:
    """All state, behind one re-entrant lock: uvicorn's thread, the callback thread and tests share it."""

    def __init__(self, clock: Callable[[], float]):
        self.clock = clock
        self.lock = threading.RLock()
        self.documents: dict[str, Document] = {}
        self.events: list[Event] = []
        self.create_calls = 0
        self._signrequests: dict[str, str] = {}  # signrequest uuid -> document uuid
        self._signer_keys: dict[str, str] = {}  # signing-page key -> document uuid
        self._file_links: dict[str, tuple[str, str, float]] = {}  # token -> (document uuid, kind, expiry)
        self._schedule: list[tuple[float, str, str]] = []  # (when, document uuid, "expire" | "delete")

    def add(self, document: Document) -> None:
        with self.lock:
            self.documents[document.uuid] = document
            if document.expires_at:
                heapq.heappush(self._schedule, (document.expires_at, document.uuid, "expire"))

    def attach(self, document: Document, signrequest: SignRequest) -> None:
        with self.lock:
            document.signrequest = signrequest
            self._signrequests[signrequest.uuid] = document.uuid
            self._signer_keys.update((signer.key, document.uuid) for signer in document.signers)

    def remove(self, document_uuid: str) -> None:
        with self.lock:
            document = self.documents.pop(document_uuid, None)
            if document and document.signrequest:
                self._signrequests.pop(document.signrequest.uuid, None)
            for signer in document.signers if document else ():
                self._signer_keys.pop(signer.key, None)

    def by_signrequest(self, signrequest_uuid: str) -> Document | None:
        with self.lock:
            return self.documents.get(self._signrequests.get(signrequest_uuid, ""))

    def by_signer_key(self, key: str) -> tuple[Document, Signer] | None:
        with self.lock:
            document = self.documents.get(self._signer_keys.get(key, ""))
            signer = next((s for s in document.signers if s.key == key), None) if document else None
            return (document, signer) if document and signer else None

    def schedule_deletion(self, document: Document) -> None:
        if document.deleted_at:
            with self.lock:
                heapq.heappush(self._schedule, (document.deleted_at, document.uuid, "delete"))

    def due(self) -> list[tuple[str, str]]:
        """(document uuid, what) of every scheduled expiry or deletion whose time has come."""
        now = self.clock()
        with self.lock:
            ready = []
            while self._schedule and self._schedule[0][0] <= now:
                _, document_uuid, what = heapq.heappop(self._schedule)
                ready.append((document_uuid, what))
            return ready

    def file_link(self, document: Document, kind: str) -> str:
        """A fresh path to one of the document's files, valid for five minutes."""
        now = self.clock()
        token = secrets.token_urlsafe(18)
        with self.lock:
            if len(self._file_links) > 5000:  # every read mints links: forget the expired ones
                self._file_links = {t: link for t, link in self._file_links.items() if link[2] > now}
            self._file_links[token] = (document.uuid, kind, now + FILE_LINK_SECONDS)
        return f"/files/{token}/{FILE_NAMES[kind]}"

    def file_content(self, token: str) -> bytes | None:
        with self.lock:
            link = self._file_links.get(token)
            if link is None or link[2] <= self.clock():
                return None
            document = self.documents.get(link[0])
            if document is None:
                return None
            return {"file": document.content, "file_as_pdf": document.content, "pdf": document.signed_pdf,
                    "signing_log": document.signing_log}[link[1]]
