"""Request bodies checked field by field, with DRF-style error maps ({"field": ["message"]}, per signer)."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sandbox.signrequest_sim.fields import (
    MAX_INT,
    FieldError,
    boolean,
    choice,
    clean,
    email,
    integer,
    mapping,
    not_a_dict,
    not_a_list,
    phone_number,
    text,
    url,
)

LANGUAGES = ("en", "en-gb", "nl", "fr", "de", "he", "da", "fi", "hu", "it", "no", "pl", "pt", "es", "sv",
             "ru", "ja")
INTEGRATIONS = ("mfiles", "salesforce", "formdesk", "zapier")
SOURCES = ("file", "file_from_content", "file_from_url", "template", "file_from_sf")


class Invalid(Exception):
    """A 400 answer with a DRF-style error body."""

    def __init__(self, errors: dict):
        super().__init__(str(errors))
        self.errors = errors


@dataclass(frozen=True)
class Upload:
    """A file sent as a multipart `file` part."""

    filename: str
    content: bytes


DOCUMENT_FIELDS = {
    "name": text(255), "external_id": text(255), "frontend_id": text(255), "events_callback_url": url(2100),
    "file_from_url": url(2100), "file_from_content": text(), "file_from_content_name": text(255),
    "template": text(), "file_from_sf": mapping,
    "auto_delete_days": integer(1, 730), "auto_expire_days": integer(1, 730),
}
SIGNREQUEST_FIELDS = {
    "from_email": email(), "from_email_name": text(255), "subject": text(512), "message": text(),
    "who": choice(("m", "mo", "o")), "send_reminders": boolean, "is_being_prepared": boolean,
    "redirect_url": url(2100), "redirect_url_declined": url(2100),
    "disable_attachments": boolean, "disable_text": boolean, "disable_date": boolean,
    "disable_emails": boolean, "disable_text_signatures": boolean, "disable_upload_signatures": boolean,
    "disable_blockchain_proof": boolean, "text_message_verification_locked": boolean,
    "integration": choice(INTEGRATIONS), "integration_data": mapping,
}
SIGNER_FIELDS = {
    "email": email(), "first_name": text(255), "last_name": text(255), "order": integer(0, MAX_INT),
    "needs_to_sign": boolean, "approve_only": boolean, "use_stamp_for_approve_only": boolean,
    "notify_only": boolean, "in_person": boolean, "language": choice(LANGUAGES), "force_language": boolean,
    "verify_phone_number": phone_number, "verify_bank_account": text(255), "embed_url_user_id": text(255),
    "redirect_url": url(2100), "redirect_url_declined": url(2100), "after_document": text(),
    "password": text(255), "message": text(),
}
# null is "not given" for optional values; flags, enums with a default, order and email refuse it, as DRF does
NULLABLE = {name for name, parse in {**DOCUMENT_FIELDS, **SIGNREQUEST_FIELDS, **SIGNER_FIELDS}.items()
            if parse is not boolean and name not in ("email", "who", "order")}


def check_document(data: dict, errors: dict) -> dict:
    """The cleaned document fields plus `content`/`filename` of the one source; problems go into `errors`."""
    cleaned, field_errors = clean(data, DOCUMENT_FIELDS, nullable=NULLABLE)
    errors.update(field_errors)
    upload = data.get("file")
    if upload is not None and not isinstance(upload, Upload):
        errors["file"] = ["The submitted data was not a file. Check the encoding type on the form."]
        return cleaned
    given = [s for s in SOURCES if (upload if s == "file" else cleaned.get(s)) not in (None, "", {})]
    if not given:
        errors.setdefault("non_field_errors", []).append(
            "Provide the document: file, file_from_content with file_from_content_name, file_from_url "
            "or template.")
    elif len(given) > 1:
        errors.setdefault("non_field_errors", []).append(
            f"Provide only one document source, not {' and '.join(given)}.")
    elif given == ["file"]:
        if not upload.content:
            errors["file"] = ["The submitted file is empty."]
        cleaned["filename"], cleaned["content"] = upload.filename, upload.content
    elif given == ["file_from_content"]:
        if not cleaned.get("file_from_content_name"):
            errors["file_from_content_name"] = ["This field is required."]
        try:
            encoded = re.sub(r"\s+", "", cleaned["file_from_content"])
            cleaned["content"] = base64.b64decode(encoded, validate=True)
            cleaned["filename"] = cleaned.get("file_from_content_name") or ""
        except (binascii.Error, ValueError):
            errors["file_from_content"] = ["Invalid base64 content."]
    elif given == ["file_from_url"]:
        errors["file_from_url"] = ["The file could not be downloaded: the sandbox reaches no other host. "
                                   "Send the file with file_from_content or file."]
    elif given == ["template"]:
        errors["template"] = ["Invalid hyperlink - Object does not exist."]  # the sandbox has no templates
    else:
        errors["file_from_sf"] = ["The sandbox team has no Salesforce integration."]
    return cleaned


def check_signers(value: Any, errors: dict) -> list[dict]:
    if not isinstance(value, list):
        errors["signers"] = {"non_field_errors": [not_a_list(value)]}
        return []
    if not value:
        errors["signers"] = {"non_field_errors": ["This list may not be empty."]}
        return []
    per_signer: list[dict] = []
    cleaned_signers: list[dict] = []
    seen: set[str] = set()
    for entry in value:
        if not isinstance(entry, dict):
            per_signer.append({"non_field_errors": [not_a_dict(entry)]})
            continue
        cleaned, problems = clean(entry, SIGNER_FIELDS, required=("email",), nullable=NULLABLE)
        address = cleaned.get("email", "").lower()
        if address and address in seen:  # our choice: one entry per person (the real rule is unconfirmed)
            problems["email"] = ["This email address is already a signer of this request."]
        seen.add(address)
        per_signer.append(problems)
        cleaned_signers.append(cleaned)
    if any(per_signer):
        errors["signers"] = per_signer
    return cleaned_signers


def check_signrequest(data: dict, errors: dict) -> dict:
    cleaned, field_errors = clean(data, SIGNREQUEST_FIELDS, nullable=NULLABLE)
    errors.update(field_errors)
    if "signers" not in data:
        errors["signers"] = ["This field is required."]
    elif data["signers"] is None:
        errors["signers"] = ["This field may not be null."]
    else:
        cleaned["signers"] = check_signers(data["signers"], errors)
    attachments = data.get("required_attachments")
    if attachments is not None:
        cleaned["required_attachments"] = _required_attachments(attachments, errors)
    return cleaned


def _required_attachments(value: Any, errors: dict) -> list[dict]:
    if not isinstance(value, list):
        errors["required_attachments"] = {"non_field_errors": [not_a_list(value)]}
        return []
    problems = [clean(a, {"name": text(255, blank=False)}, required=("name",))[1] if isinstance(a, dict)
                else {"non_field_errors": [not_a_dict(a)]} for a in value]
    if any(problems):
        errors["required_attachments"] = problems
    return [{"name": str(a["name"]).strip()} for a in value if isinstance(a, dict) and "name" in a]


def document_uuid_from_link(value: Any) -> str:
    """The uuid in a document resource URL; DRF's hyperlinked field matches the path, whatever the host."""
    if value is None:
        raise FieldError("This field may not be null.")
    if not isinstance(value, str):
        raise FieldError(f"Incorrect type. Expected URL string, received {type(value).__name__}.")
    match = re.fullmatch(r"/api/v1/documents/([0-9a-f-]{36})/", urlsplit(value.strip()).path)
    if not match:
        raise FieldError("Invalid hyperlink - No URL match.")
    return match.group(1)
