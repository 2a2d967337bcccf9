"""The simulated Legalesign account: PDF templates, documents, signers in order, realtime callbacks.

Every method that reads or changes state takes `self.lock`; the API handlers call them with the
request body already read, so no lock is held across an `await`.
"""

from __future__ import annotations

import base64
import binascii
import io
import secrets
import threading
import time
import uuid
from collections import deque
from datetime import UTC, datetime, timedelta

from pypdf import PdfReader

from sandbox.callbacks import CallbackSender, SendsCallbacks
from sandbox.faults import FaultInjector, Faults
from sandbox.legalsign_sim import validation
from sandbox.legalsign_sim.api import build_app
from sandbox.legalsign_sim.events import event_body, event_headers, hook_wants
from sandbox.legalsign_sim.model import (
    DOC_IN_PROGRESS,
    DOC_REJECTED,
    DOC_REMOVED,
    DOC_SIGNED,
    NOT_SENT,
    REJECTED,
    SENT,
    SIGNED,
    VISITED,
    Document,
    Signer,
    Template,
    now,
)
from sandbox.legalsign_sim.validation import Invalid, Unprocessable
from sandbox.pdfgen import append_pages, text_pdf


class ActionRefused(ValueError):
    """A signer action the signing page would not allow."""


class LegalsignSimulator(SendsCallbacks):
    def __init__(self, username: str = "sandbox-user", api_key: str = "sandbox-legalsign-key",
                 group: str = "sandbox-group", callback_retry_delays=(0.2, 0.4, 0.8), *,
                 allowed_recipients: list[str] | None = None, rate_limit_per_minute: int | None = None):
        self.username, self.api_key, self.group = username, api_key, group
        # A sandbox account may only send to its whitelisted emails (None: any address).
        self.allowed_recipients = (frozenset(e.lower() for e in allowed_recipients)
                                   if allowed_recipients else None)
        self.rate_limit_per_minute = rate_limit_per_minute
        # How GET /pdf/{id}/ answers: "direct" (200), "redirect" (302 to a short-lived URL) or
        # "restoring" (201, the archived PDF is being restored).
        self.pdf_delivery = "direct"
        self.lock = threading.RLock()
        self.templates: dict[str, Template] = {}
        self.documents: dict[str, Document] = {}
        self.webhooks: list[dict] = []
        self.one_use_links: dict[str, str] = {}  # token -> signer key
        self.create_calls = 0
        self.reminder_texts: list[str] = []
        self._calls: deque[float] = deque()
        self._downloads: dict[str, tuple[bytes, float]] = {}
        self.faults = Faults("legalsign")
        self.sender = CallbackSender(tuple(callback_retry_delays), faults=self.faults)
        self.public_url = "http://127.0.0.1"
        self.app = FaultInjector(build_app(self), self.faults)

    # --- test helpers ------------------------------------------------------------------------

    def document(self, document_id: str) -> Document:
        with self.lock:
            return self.documents[document_id]

    def awaiting_signature(self) -> list[tuple[str, str]]:
        """(document uuid, email) of every signer whose turn it is."""
        with self.lock:
            return [(d.uuid, s.email) for d in self.documents.values() if d.status == DOC_IN_PROGRESS
                    for s in d.signers if s.status not in (NOT_SENT, SIGNED, REJECTED)]

    def signing_url(self, document_id: str, signer_email: str) -> str:
        with self.lock:
            return f"{self.public_url}/sandbox/sign/{self._find(document_id, signer_email)[1].key}"

    def new_signing_link(self, document_id: str, signer_email: str) -> str:
        """`GET /signer/{id}/new-link/`: a fresh link that opens the signer's page once."""
        with self.lock:
            signer = self._find(document_id, signer_email)[1]
            token = secrets.token_urlsafe(18)
            self.one_use_links[token] = signer.key
            return f"{self.public_url}/sandbox/esign/{token}"

    def use_link(self, token: str) -> str | None:
        """The signer key behind a one-use link, or None when it is unknown or already used."""
        with self.lock:
            return self.one_use_links.pop(token, None)

    def allow_call(self) -> bool:
        """Count one API call against the per-minute throttle."""
        if self.rate_limit_per_minute is None:
            return True
        with self.lock:
            moment = time.monotonic()
            while self._calls and moment - self._calls[0] > 60:
                self._calls.popleft()
            if len(self._calls) >= self.rate_limit_per_minute:
                return False
            self._calls.append(moment)
            return True

    # --- API operations ----------------------------------------------------------------------

    def upload(self, data: object) -> Template:
        data = validation.check_templatepdf(data, self.group)
        pdf, page_count = _decode_pdf(data["pdf_file"])
        with self.lock:
            template = Template(str(uuid.uuid4()), data.get("title") or "", pdf, page_count, now())
            self.templates[template.uuid] = template
            return template

    def set_fields(self, template: Template, payload: object) -> None:
        fields = validation.check_fields(payload, template.page_count)
        with self.lock:
            template.fields = [{**f, "uuid": str(uuid.uuid4())} for f in fields]

    def create_document(self, data: object) -> Document:
        data = validation.check_document(data, self.group, self.allowed_recipients)
        template_id = validation.TEMPLATEPDF_URI.match(data["templatepdf"]).group(1)
        with self.lock:
            template = self.templates.get(template_id)
            if template is None:
                raise Unprocessable  # Legalesign's 500 for a reference to a missing object
            _check_template_fits(template, len(data["signers"]))
            signers = [Signer(str(uuid.uuid4()), raw["firstname"], raw["lastname"], raw["email"], index,
                              raw.get("sms") or None, validation.signer_deadline(raw))
                       for index, raw in enumerate(data["signers"])]
            in_order = bool(data.get("signers_in_order", False))
            for signer in signers:
                signer.status = SENT if signer.order == 0 or not in_order else NOT_SENT
            document = Document(str(uuid.uuid4()), data["name"], self.group, template, signers, now(),
                                tag=data.get("tag", ""), tag1=data.get("tag1", ""), tag2=data.get("tag2", ""),
                                signers_in_order=in_order, do_email=bool(data.get("do_email", False)),
                                auto_archive=bool(data.get("auto_archive", True)),
                                append_pdf=bool(data.get("append_pdf", False)))
            document.log("Document created and sent" if document.do_email else "Document created (no emails)")
            self.documents[document.uuid] = document
            self.create_calls += 1
            self._emit(document, "document", "created")
            return document

    def list_documents(self, *, archived: bool, email: str | None, status: int | None,
                       created_gt: datetime | None) -> list[Document]:
        with self.lock:
            found = [d for d in self.documents.values() if d.archived == archived
                     and (status is None or d.status == status)
                     and (email is None or any(s.email.lower() == email.lower() for s in d.signers))
                     and (created_gt is None or d.created > created_gt)]
        return sorted(found, key=lambda d: d.created, reverse=True)

    def void(self, document_id: str, *, notify: bool = False) -> None:
        with self.lock:
            document = self.documents[document_id]
            if document.status == DOC_REMOVED:
                return  # voiding twice changes nothing (our choice; Legalesign's answer is not documented)
            if document.status in (DOC_SIGNED, DOC_REJECTED):
                raise Invalid({"document": {"status": ["Only documents in progress can be voided."]}})
            document.status, document.archived, document.void_notified = DOC_REMOVED, True, notify
            document.log("Voided by the sender" + (" (recipients notified)" if notify else ""))

    def remind(self, signer: Signer, document: Document, text: str) -> bool:
        """False when Legalesign would answer 401 "failed to send"."""
        with self.lock:
            if document.status != DOC_IN_PROGRESS or signer.status in (NOT_SENT, SIGNED, REJECTED):
                return False
            signer.reminders += 1
            self.reminder_texts.append(text)
            document.log(f"Reminder sent to {signer.email}")
            return True

    def find_signer(self, signer_id: str) -> tuple[Document, Signer] | None:
        with self.lock:
            for document in self.documents.values():
                for signer in document.signers:
                    if signer.uuid == signer_id:
                        return document, signer
        return None

    def pdf_for_download(self, document: Document) -> bytes:
        # Before completion Legalesign serves the document as it stands (unconfirmed): here, the upload.
        return document.final_pdf or document.template.pdf

    def short_lived_link(self, content: bytes, lifetime: float = 60.0) -> str:
        token = secrets.token_urlsafe(24)
        with self.lock:
            self._downloads[token] = (content, time.monotonic() + lifetime)
        return f"{self.public_url}/sandbox/download/{token}"

    def take_download(self, token: str) -> bytes | None:
        with self.lock:
            content, until = self._downloads.pop(token, (None, 0.0))
        return content if content is not None and time.monotonic() < until else None

    def subscribe(self, data: object) -> int:
        data = validation.check_subscription(data, self.group)
        with self.lock:
            # Registering a URL twice adds a second hook here: Legalesign's behaviour is not documented.
            hook_id = len(self.webhooks) + 1
            self.webhooks.append({"id": hook_id, "url": data["url"], "notify": data["notify"],
                                  "eventFilter": data.get("eventFilter", ""),
                                  "group": data.get("group") or ""})
            return hook_id

    def unsubscribe(self, url: str, event_filter: str | None) -> None:
        with self.lock:
            self.webhooks = [h for h in self.webhooks if not (
                h["url"] == url and (event_filter is None or h["eventFilter"] == event_filter))]

    def audit_pdf(self, document: Document) -> bytes:
        with self.lock:
            rows = [f"{at:%Y-%m-%d %H:%M:%S} UTC  {what}  (IP 127.0.0.1)" for at, what in document.audit]
            header = ["Audit log (Legalesign sandbox)", f"Document {document.name}", f"ID {document.uuid}",
                      ""]
        return text_pdf([header + rows], title="Audit log")

    # --- signer actions (signing pages and tests) ---------------------------------------------

    def _find(self, document_id: str, email: str) -> tuple[Document, Signer]:
        document = self.documents.get(document_id)
        if document is None:
            raise ActionRefused(f"no document {document_id}")
        signer = next((s for s in document.signers if s.email.lower() == email.lower()), None)
        if signer is None:
            raise ActionRefused(f"{email} is not a signer")
        return document, signer

    def _signer(self, document_id: str, email: str) -> tuple[Document, Signer]:
        """The signer, if the document still lets them act."""
        document, signer = self._find(document_id, email)
        if document.status != DOC_IN_PROGRESS:
            raise ActionRefused(f"the document is finished (status {document.status})")
        if signer.expires and signer.expires < datetime.now(UTC):
            raise ActionRefused("the signing deadline has passed")
        return document, signer

    def view(self, document_id: str, signer_email: str) -> None:
        with self.lock:
            document, signer = self._signer(document_id, signer_email)
            if SENT <= signer.status < VISITED:
                signer.status = VISITED
                document.log(f"Signing page visited by {signer.email}")
                self._emit(document, "recipient", "visiting", signer)

    def sign(self, document_id: str, signer_email: str) -> None:
        with self.lock:
            document, signer = self._signer(document_id, signer_email)
            earlier = next((s for s in document.signers if s.order < signer.order and s.status != SIGNED),
                           None)
            if earlier or signer.status == NOT_SENT:
                waiting_for = earlier.email if earlier else "the sender"
                raise ActionRefused(f"{signer_email} must wait for {waiting_for}")
            if signer.status == SIGNED:
                raise ActionRefused(f"{signer_email} has already signed")
            if signer.sms and not signer.sms_verified:
                raise ActionRefused(f"{signer_email} must enter the SMS code first")
            signer.status = SIGNED
            document.log(f"Signed by {signer.email}")
            self._emit(document, "recipient", "completed", signer)
            following = next((s for s in document.signers if s.status == NOT_SENT), None)
            if following:
                following.status = SENT
                document.log(f"Sent to {following.email}")
            if all(s.status == SIGNED for s in document.signers):
                self._finish(document)

    def _finish(self, document: Document) -> None:
        signed_by = [f"Signed by {s.firstname} {s.lastname} <{s.email}>" for s in document.signers]
        certificate = ["Legalesign sandbox - certificate", f"Document {document.uuid}", *signed_by]
        document.final_pdf = append_pages(document.template.pdf, [certificate])
        document.status = DOC_SIGNED
        document.archived = document.auto_archive
        document.log("Final PDF created")
        self._emit(document, "document", "finalPdfCreated")

    def sms_code(self, document_id: str, signer_email: str) -> str:
        with self.lock:
            return self._signer(document_id, signer_email)[1].sms_code

    def enter_sms_code(self, document_id: str, signer_email: str, code: str) -> bool:
        with self.lock:
            document, signer = self._signer(document_id, signer_email)
            signer.sms_verified = signer.sms_verified or secrets.compare_digest(code.strip(), signer.sms_code)
            document.log(f"SMS code {'accepted' if signer.sms_verified else 'refused'} for {signer.email}")
            return signer.sms_verified

    def decline(self, document_id: str, signer_email: str, reason: str) -> None:
        """Legalesign calls it rejecting: the signer is 60, the document 50."""
        with self.lock:
            document, signer = self._signer(document_id, signer_email)
            if signer.status in (NOT_SENT, SIGNED):
                raise ActionRefused(f"{signer_email} cannot reject now (status {signer.status})")
            signer.status, signer.reject_reason = REJECTED, reason
            document.status = DOC_REJECTED
            document.log(f"Rejected by {signer.email}: {reason}")
            self._emit(document, "recipient", "rejected", signer)
            self._emit(document, "document", "rejected")

    def expire(self, document_id: str) -> None:
        """Move every pending signer's deadline into the past. Legalesign documents no expired status,
        so the document stays in progress and signing is refused."""
        with self.lock:
            document = self.documents[document_id]
            for signer in document.signers:
                if signer.status != SIGNED:
                    signer.expires = datetime.now(UTC) - timedelta(seconds=1)
            document.log("Signing deadline passed")

    # --- realtime callbacks ----------------------------------------------------------------

    def _emit(self, document: Document, obj: str, event: str, signer: Signer | None = None) -> None:
        body = event_body(document, obj, event, signer)
        headers = event_headers(body, self.api_key)
        for hook in self.webhooks:
            if hook_wants(hook, document, obj, event):
                self.sender.send(hook["url"], lambda b=body: b, f"{obj}.{event}", body["id"], headers)


def _decode_pdf(encoded: str) -> tuple[bytes, int]:
    """The uploaded PDF and its page count."""
    try:
        pdf = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        pdf = b""
    if not pdf.startswith(b"%PDF"):
        raise Invalid({"templatepdf": {"pdf_file": ["A base64-encoded PDF is required."]}})
    try:
        page_count = len(PdfReader(io.BytesIO(pdf)).pages)
    except Exception:  # any parser failure means the upload is not a usable PDF
        raise Invalid({"templatepdf": {"pdf_file": ["The PDF could not be read."]}}) from None
    return pdf, page_count


def _check_template_fits(template: Template, signer_count: int) -> None:
    if not template.valid:
        raise Invalid({"document": {"templatepdf": ["The PDF has no signature fields (valid: false)."]}})
    missing = [n for n in range(1, signer_count + 1)
               if not any(f.get("signer") == n and f["element_type"] == "signature" for f in template.fields)]
    if missing:
        raise Invalid({"document": {"signers": [f"The PDF has no signature field for signer {missing[0]}."]}})
    if template.signer_count > signer_count:
        raise Invalid({"document": {"signers": [f"The PDF has fields for {template.signer_count} signers."]}})
