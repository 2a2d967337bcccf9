"""State of the simulated Legalesign account and its REST representations (snake_case, Tastypie)."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime

# Document status (spec §5.1) and signer status (§5.2).
DOC_IN_PROGRESS, DOC_FIELDS_DONE, DOC_SIGNED, DOC_REMOVED, DOC_REJECTED = 10, 20, 30, 40, 50
NOT_SENT, SENT, EMAIL_OPENED, VISITED, SIGNED, REJECTED = 4, 10, 15, 20, 40, 60
SIGNER_STATUS_TEXT = {NOT_SENT: "Not sent", SENT: "Sent", EMAIL_OPENED: "Email opened", VISITED: "Visited",
                      SIGNED: "Signed", REJECTED: "Rejected"}
DOCUMENT_STATUS_TEXT = {DOC_IN_PROGRESS: "In progress", DOC_FIELDS_DONE: "Fields complete",
                        DOC_SIGNED: "Signed", DOC_REMOVED: "Removed", DOC_REJECTED: "Rejected"}


def now() -> datetime:
    return datetime.now(UTC)


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


@dataclass
class Template:
    uuid: str
    title: str
    pdf: bytes
    page_count: int
    created: datetime
    fields: list[dict] = field(default_factory=list)

    @property
    def signer_count(self) -> int:
        return max((f["signer"] for f in self.fields if isinstance(f.get("signer"), int)), default=0)

    @property
    def valid(self) -> bool:
        return any(f["element_type"] == "signature" for f in self.fields)


@dataclass
class Signer:
    uuid: str
    firstname: str
    lastname: str
    email: str
    order: int
    sms: str | None = None
    expires: datetime | None = None
    status: int = NOT_SENT
    reject_reason: str = ""
    reminders: int = 0
    key: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    sms_code: str = field(default_factory=lambda: f"{secrets.randbelow(10**6):06d}")
    sms_verified: bool = False

    @property
    def resource_uri(self) -> str:
        return f"/api/v1/signer/{self.uuid}/"


@dataclass
class Document:
    uuid: str
    name: str
    group: str
    template: Template
    signers: list[Signer]
    created: datetime
    tag: str = ""
    tag1: str = ""
    tag2: str = ""
    signers_in_order: bool = False
    do_email: bool = False
    auto_archive: bool = True
    append_pdf: bool = False
    status: int = DOC_IN_PROGRESS
    archived: bool = False
    modified: datetime | None = None
    final_pdf: bytes | None = None
    void_notified: bool = False
    audit: list[tuple[datetime, str]] = field(default_factory=list)

    @property
    def resource_uri(self) -> str:
        return f"/api/v1/document/{self.uuid}/"

    def log(self, what: str) -> None:
        self.modified = now()
        self.audit.append((self.modified, what))


def document_json(document: Document, *, detail: bool, with_signers: bool = True) -> dict:
    """`GET /document/{id}/` (detail) or one object of `GET /document/` (list)."""
    final = document.final_pdf
    data = {
        "uuid": document.uuid, "resource_uri": document.resource_uri, "name": document.name,
        "group": f"/api/v1/group/{document.group}/", "user": "/api/v1/user/sandbox-user/",
        "status": document.status, "archived": document.archived, "auto_archive": document.auto_archive,
        "append_pdf": document.append_pdf, "cc_emails": "", "created": stamp(document.created),
        "modified": stamp(document.modified or document.created), "do_email": document.do_email,
        "download_final": final is not None, "has_fields": True,
        "hash_value": hashlib.sha256(final).hexdigest() if final else None, "pdftext": None, "redirect": "",
        "sign_time": None, "signature_type": 4, "tag": document.tag, "tag1": document.tag1,
        "tag2": document.tag2, "templatepdf": f"/api/v1/templatepdf/{document.template.uuid}/",
        "template": None, "text": "",
        # The list view gives this flag as 0/1, the detail view as a boolean (spec §5.3).
        "signers_in_order": document.signers_in_order if detail else int(document.signers_in_order),
    }
    if with_signers:
        data["signers"] = [
            [s.resource_uri, s.firstname, s.lastname, s.email, s.sms or "", True, s.status, s.order]
            for s in document.signers]
    if detail:
        data["signer_objects"] = [
            {"uuid": s.uuid, "resource_uri": s.resource_uri, "firstname": s.firstname, "lastname": s.lastname,
             "email": s.email, "tel": s.sms or "", "order": s.order, "role": "signer", "status": s.status}
            for s in document.signers]
    return data


def template_json(template: Template, group: str) -> dict:
    return {"uuid": template.uuid, "resource_uri": f"/api/v1/templatepdf/{template.uuid}/",
            "title": template.title, "group": f"/api/v1/group/{group}/", "user": "/api/v1/user/sandbox-user/",
            "created": stamp(template.created), "modified": stamp(template.created),
            "page_count": template.page_count, "signer_count": template.signer_count, "valid": template.valid,
            # Legalesign gives `parties` as a JSON-encoded string, not an array (spec §4.2).
            "parties": json.dumps([f"Signer {n}" for n in range(1, template.signer_count + 1)])}


def signer_json(document: Document, signer: Signer) -> dict:
    # first_name / last_name here, unlike firstname / lastname everywhere else (spec §5.5).
    return {"document": document.resource_uri, "email": signer.email, "first_name": signer.firstname,
            "last_name": signer.lastname, "has_fields": True, "order": signer.order,
            "resource_uri": signer.resource_uri, "status": signer.status}


def status_json(document: Document) -> dict:
    return {"archived": document.archived, "download_final": document.final_pdf is not None,
            "resource_uri": f"/api/v1/status/{document.uuid}/", "status": document.status,
            "tag": document.tag, "tag1": document.tag1, "tag2": document.tag2}
