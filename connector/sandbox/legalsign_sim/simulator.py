"""The simulated Legalesign account: PDFs, documents, signers in order, realtime callbacks."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from connector.sandbox.callbacks import CallbackSender, SendsCallbacks
from connector.sandbox.pdfgen import append_pages, text_pdf

_NAME = re.compile(r"^[-\w' ]{1,60}$")
_TAG = re.compile(r"^[-\w\[\]\:\;\/\.\, _]{0,250}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
STATUS_TEXT = {4: "Not sent", 10: "Sent", 15: "Email opened", 20: "Visited", 40: "Signed", 60: "Rejected"}


class Invalid(Exception):
    def __init__(self, errors: dict):
        super().__init__(json.dumps(errors))
        self.errors = errors


class ActionRefused(ValueError):
    pass


@dataclass
class Signer:
    uuid: str
    firstname: str
    lastname: str
    email: str
    order: int
    sms: str | None = None
    expires: str | None = None
    status: int = 4
    reject_reason: str = ""
    reminders: int = 0
    key: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    sms_code: str = field(default_factory=lambda: f"{secrets.randbelow(10**6):06d}")
    sms_verified: bool = False


@dataclass
class Document:
    uuid: str
    name: str
    pdf_id: str
    tag: str
    tag1: str
    signers: list[Signer]
    created: datetime
    status: int = 10
    final_pdf: bytes | None = None
    audit: list[tuple[datetime, str]] = field(default_factory=list)


class LegalsignSimulator(SendsCallbacks):
    def __init__(self, username: str = "sandbox-user", api_key: str = "sandbox-legalsign-key",
                 group: str = "sandbox-group", callback_retry_delays=(0.2, 0.4, 0.8)):
        self.username, self.api_key, self.group = username, api_key, group
        self.lock = threading.RLock()
        self.pdfs: dict[str, dict] = {}
        self.documents: dict[str, Document] = {}
        self.webhooks: list[dict] = []
        self.sender = CallbackSender(tuple(callback_retry_delays))
        self.create_calls = 0
        self.public_url = "http://127.0.0.1"
        from connector.sandbox.legalsign_sim.api import build_app

        self.app = build_app(self)

    # --- API operations ----------------------------------------------------------------------

    def upload(self, data: dict, pdf: bytes) -> str:
        pdf_id = str(uuid.uuid4())
        self.pdfs[pdf_id] = {"title": data.get("title") or "", "pdf": pdf, "fields": []}
        return pdf_id

    def create_document(self, data: dict) -> Document:
        errors: dict = {}
        for key in ("group", "name", "templatepdf", "signers"):
            if not data.get(key):
                errors[key] = ["This field is required."]
        if data.get("group") and data["group"] != f"/api/v1/group/{self.group}/":
            errors["group"] = ["Unknown group or no access."]
        pdf_id = str(data.get("templatepdf", "")).rstrip("/").rsplit("/", 1)[-1]
        if data.get("templatepdf") and pdf_id not in self.pdfs:
            errors["templatepdf"] = ["Object does not exist."]
        elif data.get("templatepdf") and not self.pdfs[pdf_id]["fields"]:
            errors["templatepdf"] = ["The PDF has no signature fields (valid: false)."]
        if len(str(data.get("name", ""))) > 60:
            errors["name"] = ["Ensure this field has no more than 60 characters."]
        for key in ("tag", "tag1", "tag2"):
            if not _TAG.match(str(data.get(key, ""))):
                errors[key] = ["Invalid characters."]
        signers = []
        for index, raw in enumerate(data.get("signers") or []):
            problems = {k: ["This field is required."] for k in ("firstname", "lastname", "email") if not raw.get(k)}
            for key in ("firstname", "lastname"):
                if raw.get(key) and not _NAME.match(raw[key]):
                    problems[key] = ["Invalid characters."]
            if raw.get("email") and (not _EMAIL.match(raw["email"]) or len(raw["email"]) > 75):
                problems["email"] = ["Enter a valid email address."]
            if raw.get("sms") is not None and not re.match(r"^\+\d{7,15}$", str(raw["sms"])):
                problems["sms"] = ["Enter a number in international format."]
            if problems:
                errors.setdefault("signers", {})[str(index)] = problems
            else:
                signers.append(Signer(str(uuid.uuid4()), raw["firstname"], raw["lastname"], raw["email"], index,
                                      raw.get("sms"), raw.get("expires")))
        if errors:
            raise Invalid({"document": errors})
        with self.lock:
            document = Document(str(uuid.uuid4()), data["name"], pdf_id, data.get("tag", ""), data.get("tag1", ""),
                                signers, datetime.now(UTC))
            in_order = data.get("signers_in_order", False)
            for signer in signers:
                signer.status = 10 if (signer.order == 0 or not in_order) else 4
            document.audit.append((document.created, "Document created and sent"))
            self.documents[document.uuid] = document
            self.create_calls += 1
            self._emit(document, "document", "created")
            return document

    # --- signer actions (signing pages and tests) ---------------------------------------------

    def _signer(self, document_id: str, email: str) -> tuple[Document, Signer]:
        document = self.documents.get(document_id)
        if document is None:
            raise ActionRefused(f"no document {document_id}")
        signer = next((s for s in document.signers if s.email.lower() == email.lower()), None)
        if signer is None:
            raise ActionRefused(f"{email} is not a signer")
        if document.status != 10:
            raise ActionRefused(f"the document is finished (status {document.status})")
        if signer.expires and datetime.fromisoformat(signer.expires).replace(tzinfo=UTC) < datetime.now(UTC):
            raise ActionRefused("the signing deadline has passed")
        return document, signer

    def view(self, document_id: str, signer_email: str) -> None:
        with self.lock:
            document, signer = self._signer(document_id, signer_email)
            if signer.status in (10, 15):
                signer.status = 20
                self._emit(document, "recipient", "visiting", signer)

    def sign(self, document_id: str, signer_email: str) -> None:
        with self.lock:
            document, signer = self._signer(document_id, signer_email)
            earlier = next((s for s in document.signers if s.order < signer.order and s.status != 40), None)
            if earlier or signer.status == 4:
                raise ActionRefused(f"{signer_email} must wait for {earlier.email if earlier else 'the sender'}")
            if signer.status == 40:
                raise ActionRefused(f"{signer_email} has already signed")
            if signer.sms and not signer.sms_verified:
                raise ActionRefused(f"{signer_email} must enter the SMS code first")
            signer.status = 40
            document.audit.append((datetime.now(UTC), f"Signed by {signer.email}"))
            self._emit(document, "recipient", "completed", signer)
            following = next((s for s in document.signers if s.status == 4), None)
            if following:
                following.status = 10
            if all(s.status == 40 for s in document.signers):
                self._finish(document)

    def _finish(self, document: Document) -> None:
        lines = [f"Signed by {s.firstname} {s.lastname} <{s.email}>" for s in document.signers]
        certificate = ["Legalesign sandbox - certificate", f"Document {document.uuid}", *lines]
        document.final_pdf = append_pages(self.pdfs[document.pdf_id]["pdf"], [certificate])
        document.status = 30
        document.audit.append((datetime.now(UTC), "Final PDF created"))
        self._emit(document, "document", "finalPdfCreated")

    def sms_code(self, document_id: str, signer_email: str) -> str:
        with self.lock:
            return self._signer(document_id, signer_email)[1].sms_code

    def enter_sms_code(self, document_id: str, signer_email: str, code: str) -> bool:
        with self.lock:
            document, signer = self._signer(document_id, signer_email)
            signer.sms_verified = signer.sms_verified or code.strip() == signer.sms_code
            document.audit.append((datetime.now(UTC), f"SMS code {'accepted' if signer.sms_verified else 'refused'} "
                                   f"for {signer.email}"))
            return signer.sms_verified

    def decline(self, document_id: str, signer_email: str, reason: str) -> None:
        with self.lock:
            document, signer = self._signer(document_id, signer_email)
            signer.status, signer.reject_reason = 60, reason
            document.status = 50
            document.audit.append((datetime.now(UTC), f"Rejected by {signer.email}: {reason}"))
            self._emit(document, "recipient", "rejected", signer)
            self._emit(document, "document", "rejected")

    def expire(self, document_id: str) -> None:
        """Move every pending signer's deadline into the past (Legalesign has no expired status)."""
        with self.lock:
            for signer in self.documents[document_id].signers:
                if signer.status != 40:
                    signer.expires = "2000-01-01T00:00:00"

    def void(self, document_id: str) -> None:
        with self.lock:
            document = self.documents[document_id]
            if document.status != 10:
                raise Invalid({"document": {"status": ["Only documents in progress can be voided."]}})
            document.status = 40
            document.audit.append((datetime.now(UTC), "Voided by the sender"))

    def audit_pdf(self, document: Document) -> bytes:
        rows = [f"{at:%Y-%m-%d %H:%M:%S} UTC  {what}  (IP 127.0.0.1)" for at, what in document.audit]
        return text_pdf([["Audit log (Legalesign sandbox)", f"Document {document.name}", "", *rows]], title="Audit")

    def signing_url(self, document_id: str, signer_email: str) -> str:
        signer = next(s for s in self.documents[document_id].signers if s.email.lower() == signer_email.lower())
        return f"{self.public_url}/sandbox/sign/{signer.key}"

    # --- realtime callbacks ----------------------------------------------------------------

    def _emit(self, document: Document, obj: str, event: str, signer: Signer | None = None) -> None:
        base = {"tag": document.tag, "tag1": document.tag1, "tag2": "", "group": self.group,
                "groupResourceUri": f"/api/v1/group/{self.group}/"}
        if obj == "document":
            data = {**base, "uuid": document.uuid, "name": document.name, "status": document.status,
                    "statusText": str(document.status), "resourceUri": f"/api/v1/document/{document.uuid}/",
                    "recipients": [_recipient(s) for s in document.signers]}
        else:
            data = {**base, **_recipient(signer), "document": document.uuid, "documentName": document.name,
                    "documentResourceUri": f"/api/v1/document/{document.uuid}/", "emailBounce": 0,
                    "emailBounceMessage": ""}
        body = {"id": f"evt-{uuid.uuid4()}", "version": "1", "object": obj, "event": event,
                "created": int(time.time()), "data": data}
        raw = json.dumps(body).encode()
        # The real header scheme is not public; the sandbox signs the raw body with the API key (our choice).
        headers = {"X-Hmac-Sha256": hmac.new(self.api_key.encode(), raw, hashlib.sha256).hexdigest(),
                   "X-Signed-Sha256": "sandbox-unsigned"}
        for hook in self.webhooks:
            if hook["eventFilter"] in ("", f"{obj}.*", f"{obj}.{event}"):
                self.sender.send(hook["url"], lambda b=body: b, f"{obj}.{event}", body["id"], headers)


def _recipient(signer: Signer) -> dict:
    return {"uuid": signer.uuid, "email": signer.email, "firstname": signer.firstname, "lastname": signer.lastname,
            "order": signer.order, "status": signer.status, "statusText": STATUS_TEXT.get(signer.status, ""),
            "roleText": "Signer", "resourceUri": f"/api/v1/signer/{signer.uuid}/", "rejectReason": signer.reject_reason}
