"""What the simulated OneSpan refuses with 400, checked before anything is stored.

Rules the reference confirms are enforced as written; where it is silent (field bounds, a due date in
the past, duplicate signer e-mails) the sandbox picks the strict reading so adapter bugs surface here.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from dataclasses import dataclass
from datetime import datetime

from pypdf import PdfReader
from pypdf.errors import PdfReadError

from sandbox.onespan_sim.model import EVENTS, OneSpanError, invalid, parse_date
from sandbox.onespan_sim.render import rendered_size

MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_LANGUAGE = re.compile(r"^[a-z]{2}(?:[-_][A-Za-z]{2,4})?$")
_FORBIDDEN_NAME = re.compile(r'[*/\\:<>|?"]')
_SCHEMES = {"NONE", "PROVIDER", "CHALLENGE", "SMS", "SSO", "KBA", "SAA", "ID_VERIFICATION", "QASMS"}
_SIGNATURE_SUBTYPES = {"FULLNAME", "CAPTURE", "INITIALS", "MOBILE_CAPTURE", "CHOOSE_SIGNATURE",
                       "CHOOSE_INITIALS"}
_FIELD_TYPES = {"SIGNATURE", "INPUT", "IMAGE"}


@dataclass(frozen=True)
class Upload:
    """One document of a create request with its file and page sizes (width, height in field units)."""

    document: dict
    content: bytes
    pages: list[tuple[int, int]]


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_signer(role_id: str, signer: object) -> None:
    if not isinstance(signer, dict):
        raise invalid(f"Role {role_id}: a signer must be an object.", "error.validation.signer.invalid")
    if not _EMAIL.match(str(signer.get("email", ""))):
        raise invalid(f"Invalid email address for role {role_id}.", "error.validation.signer.email")
    if not str(signer.get("firstName") or "").strip() or not str(signer.get("lastName") or "").strip():
        raise invalid(f"Signer of role {role_id} needs firstName and lastName.",
                      "error.validation.signer.name")
    auth = signer.get("auth") or {"scheme": "NONE"}
    if not isinstance(auth, dict) or auth.get("scheme") not in _SCHEMES:
        raise invalid(f"Unknown authentication scheme for role {role_id}.", "error.validation.auth.scheme")
    if auth["scheme"] == "SMS":
        challenges = auth.get("challenges")
        phone = challenges[0].get("question") if isinstance(challenges, list) and challenges and \
            isinstance(challenges[0], dict) else None
        if not isinstance(phone, str) or not _E164.match(phone):
            raise invalid(f"SMS authentication for role {role_id} needs a phone number in E.164 form "
                          "in challenges[0].question.", "error.validation.auth.smsPhone")


def _check_roles(roles: object) -> set[str]:
    if not isinstance(roles, list):
        raise invalid("roles must be a list.", "error.validation.role.invalid")
    role_ids: set[str] = set()
    emails: set[str] = set()
    for role in roles:
        if not isinstance(role, dict) or not isinstance(role.get("id"), str) or not role["id"]:
            raise invalid("Every role needs an id.", "error.validation.role.id")
        if role["id"] in role_ids:
            raise invalid(f"Duplicate role id {role['id']}.", "error.validation.role.duplicateId")
        role_ids.add(role["id"])
        if role.get("type", "SIGNER") not in ("SIGNER", "SENDER"):
            raise invalid(f"Role {role['id']} has an unknown type.", "error.validation.role.type")
        index = role.get("index", 0)
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise invalid(f"Role {role['id']}: index must be a whole number >= 0.",
                          "error.validation.role.index")
        signers = role.get("signers", [])
        if not isinstance(signers, list) or len(signers) > 1:
            raise invalid(f"Role {role['id']} takes at most one signer.", "error.validation.role.signers")
        for signer in signers:
            _check_signer(role["id"], signer)
            email = signer["email"].lower()
            if email in emails:
                raise invalid(f"{signer['email']} is a signer of two roles.",
                              "error.validation.signer.duplicateEmail")
            emails.add(email)
    return role_ids


def _check_field(name: str, field: object, pages: list[tuple[int, int]], extract: bool) -> None:
    where = f"Document {name!r}"
    if not isinstance(field, dict) or field.get("type") not in _FIELD_TYPES:
        raise invalid(f"{where}: field type must be one of SIGNATURE, INPUT, IMAGE.",
                      "error.validation.field.type")
    if field["type"] == "SIGNATURE" and field.get("subtype", "FULLNAME") not in _SIGNATURE_SUBTYPES:
        raise invalid(f"{where}: unknown signature subtype.", "error.validation.field.subtype")
    if extract or field.get("extract"):
        return  # positioned by the server from text tags or anchors
    page = field.get("page")
    if not isinstance(page, int) or isinstance(page, bool) or not 0 <= page < len(pages):
        raise invalid(f"{where}: page {page!r} is not a page of the document (0-based, {len(pages)} pages).",
                      "error.validation.field.page")
    box = [field.get(k) for k in ("top", "left", "width", "height")]
    if not all(_is_number(v) for v in box) or box[2] <= 0 or box[3] <= 0:
        raise invalid(f"{where}: top and left must be numbers, width and height numbers > 0.",
                      "error.validation.field.position")
    width, height = pages[page]
    top, left, field_width, field_height = box
    if top < 0 or left < 0 or left + field_width > width or top + field_height > height:
        # OneSpan's own words and key (community forum, 2023); its body carries `parameters` too.
        raise OneSpanError(400, "error.validation.invalidPageLocation",
                           "Invalid position. Object placed outside of document page boundary.",
                           parameters={"approvalDataName": "", "documentName": name})


def _check_document(upload: Upload, role_ids: set[str]) -> None:
    document, name = upload.document, upload.document["name"]
    for approval in document.get("approvals") or []:
        if not isinstance(approval, dict) or approval.get("role") not in role_ids:
            raise invalid(f"Document {name!r}: approval for an unknown role.",
                          "error.validation.approval.role")
        fields = approval.get("fields") or []
        if not any(isinstance(f, dict) and f.get("type") == "SIGNATURE" for f in fields):
            raise invalid(f"Document {name!r}: an approval needs a SIGNATURE field.",
                          "error.validation.approval.fields")
        for field in fields:
            _check_field(name, field, upload.pages, bool(document.get("extract")))


def _check_name(document: object) -> str:
    name = document.get("name") if isinstance(document, dict) else None
    if not isinstance(name, str) or not name.strip() or len(name) > 256 or _FORBIDDEN_NAME.search(name) \
            or "esigned" in name.lower():
        raise invalid(f"Invalid document name {name!r}: 1-256 characters, none of * / \\ : < > | ? \" and "
                      "not containing 'esigned'.", "error.validation.document.name")
    return name


def _pages(name: str, content: bytes) -> list[tuple[int, int]]:
    if len(content) > MAX_DOCUMENT_BYTES:
        raise invalid(f"Document {name!r} is larger than 16 MB.", "error.validation.document.tooLarge")
    try:
        reader = PdfReader(io.BytesIO(content))
        if reader.is_encrypted:
            raise invalid(f"Document {name!r} is password protected.", "error.validation.document.encrypted")
        return [rendered_size(page) for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, TypeError):
        # The real service converts Word and images to PDF; the sandbox takes PDFs only.
        raise invalid(f"Document {name!r} is not a readable PDF.",
                      "error.validation.document.invalidFile") from None


def _match_files(documents: list[dict], files: list[tuple[str, bytes]]) -> list[bytes]:
    """File parts are matched to documents by filename = document name, then by order (reference §2.2)."""
    remaining = list(files)
    matched: list[bytes | None] = []
    for document in documents:
        if document.get("base64Content"):
            try:
                matched.append(base64.b64decode(document["base64Content"], validate=True))
            except (binascii.Error, ValueError):
                raise invalid(f"base64Content of {document['name']!r} is not base64.",
                              "error.validation.document.base64") from None
            continue
        by_name = next((i for i, (filename, _) in enumerate(remaining) if filename == document["name"]), None)
        matched.append(remaining.pop(by_name)[1] if by_name is not None else None)
    for position, content in enumerate(matched):
        if content is None:
            if not remaining:
                raise invalid(f"No file part for document {documents[position]['name']!r}.",
                              "error.validation.document.missingFile")
            matched[position] = remaining.pop(0)[1]
    if remaining:
        raise invalid(f"{len(remaining)} file part(s) match no document.",
                      "error.validation.document.extraFile")
    return [m for m in matched if m is not None]


def validate_create(payload: object, files: list[tuple[str, bytes]], now: datetime) -> list[Upload]:
    if not isinstance(payload, dict):
        raise invalid("The package must be a JSON object.", "error.validation.package.invalid")
    if not isinstance(payload.get("name"), str) or not payload["name"].strip():
        raise invalid("The package name is required.", "error.validation.package.name")
    if payload.get("type", "PACKAGE") != "PACKAGE":
        raise invalid("The sandbox creates packages only (type PACKAGE).", "error.validation.package.type")
    if payload.get("status", "DRAFT") not in ("DRAFT", "SENT"):
        raise invalid("A package can only be created as DRAFT or SENT.", "error.validation.package.status")
    if "due" in payload and payload["due"] is not None:
        due = parse_date(payload["due"])
        if due is None:
            raise invalid("due must be an ISO-8601 date-time.", "error.validation.package.dueDate")
        if due <= now:
            raise invalid("due must be in the future.", "error.validation.package.dueDateInPast")
    language = payload.get("language")
    if language is not None and not (isinstance(language, str) and _LANGUAGE.match(language)):
        # The reference gives the package language as a language code string (en, fr, nl), no list of values.
        raise invalid(f"Invalid package language {language!r}: expected a language code such as en, fr or nl.",
                      "error.validation.package.language")
    if "data" in payload and not isinstance(payload["data"], dict | type(None)):
        raise invalid("data must be an object.", "error.validation.package.data")
    role_ids = _check_roles(payload.get("roles", []))
    documents = payload.get("documents", [])
    if not isinstance(documents, list):
        raise invalid("documents must be a list.", "error.validation.document.invalid")
    names = [_check_name(d) for d in documents]
    ids = [d["id"] for d in documents if d.get("id")]
    if len(set(ids)) != len(ids) or "default-consent" in ids:
        raise invalid("Document ids must be unique (and not default-consent).",
                      "error.validation.document.id")
    contents = _match_files(documents, files)
    uploads = [Upload(d, c, _pages(n, c)) for d, c, n in zip(documents, contents, names, strict=True)]
    for upload in uploads:
        _check_document(upload, role_ids)
    return uploads


def validate_callback(data: dict, accepted: frozenset[str] = EVENTS) -> dict:
    url = data.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise invalid("The callback url is invalid.", "error.validation.callback.url")
    key = data.get("key")
    if key is not None and not isinstance(key, str):
        raise invalid("The callback key must be a string.", "error.validation.callback.key")
    events = data.get("events", [])
    unknown = [e for e in events if e not in accepted] if isinstance(events, list) else None
    if unknown is None or unknown:
        raise invalid(f"events must list known event names{f' ({unknown[0]!r} is not one)' if unknown else ''}.",
                      "error.validation.callback.events")
    return {"url": url, "key": key or None, "events": list(dict.fromkeys(events))}


def validate_reminders(package_id: str, data: dict) -> dict:
    if data.get("packageId", package_id) != package_id:
        raise invalid("packageId does not match the package.", "error.validation.reminders.packageId")
    schedule = {"packageId": package_id}
    for key, minimum in (("startInDaysDelay", 0), ("intervalInDays", 1), ("repetitionsCount", 1)):
        value = data.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= 365:
            raise invalid(f"{key} must be a whole number from {minimum} to 365.",
                          "error.validation.reminders.invalid")
        schedule[key] = value
    return schedule
