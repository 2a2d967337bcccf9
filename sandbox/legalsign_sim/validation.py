"""Request checks of the simulated Legalesign API, with the OpenAPI spec's patterns and limits.

Errors are Tastypie-shaped: `{"<resource>": {"<field>": ["message", ...]}}`. Fields the spec
lists but the sandbox does not model (witnesses, reviewers, attachments, ...) are ignored, as
Tastypie ignores unknown keys.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

GROUP_URI = re.compile(r"^/api/v1/group/([-\w]{1,50})/$")
TEMPLATEPDF_URI = re.compile(r"^/api/v1/templatepdf/([-\w]{1,60})/$")
NAME = re.compile(r"^[-\w' ]{1,60}$")
TAG = re.compile(r"^[-\w\[\]\:\;\/\.\, _]{0,250}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^\+\d{7,15}$")
LABEL = re.compile(r"^[-\w ]{0,60}$")
ELEMENT_TYPES = ("signature", "initials", "text", "admin")
EVENT_FILTERS = ("", "document.*", "document.created", "document.rejected", "document.finalPdfCreated",
                 "recipient.*", "recipient.completed", "recipient.rejected", "recipient.emailOpened",
                 "recipient.visiting", "recipient.bounced")
NOTIFY_WHEN = {"all": 1, "signed": 2, "sent": 3, "rejected": 4, "realtime": 10}
_DOCUMENT_FLAGS = ("append_pdf", "append_history", "auto_archive", "do_email", "return_signer_links",
                   "signers_in_order", "strict_fields", "convert_sender_to_signer")
REQUIRED = ["This field is required."]


class Invalid(Exception):
    """A 400 with a Tastypie-style JSON body."""

    def __init__(self, errors: dict):
        super().__init__(json.dumps(errors))
        self.errors = errors


class Unprocessable(Exception):
    """What Legalesign answers with a 500: unparseable JSON or a reference to a missing object."""


def parse_json(raw: bytes, *, bad_json_is_400: bool = False) -> object:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        if bad_json_is_400:
            raise Invalid({"error": "Request is not valid JSON."}) from None
        raise Unprocessable from None


def check_templatepdf(data: object, group: str) -> dict:
    if not isinstance(data, dict):
        raise Invalid({"templatepdf": {"__all__": ["Expected a JSON object."]}})
    errors: dict[str, list[str]] = {}
    _check_group(data, group, errors)
    if not isinstance(data.get("pdf_file"), str) or not data["pdf_file"]:
        errors["pdf_file"] = REQUIRED
    title = data.get("title", "")
    if not isinstance(title, str) or len(title) > 120:
        errors["title"] = ["Ensure this value has at most 120 characters."]
    for flag in ("process_tags", "archive_upon_send"):
        if flag in data and not isinstance(data[flag], bool):
            errors[flag] = ["Must be a boolean."]
    if errors:
        raise Invalid({"templatepdf": errors})
    return data


def check_fields(payload: object, page_count: int) -> list[dict]:
    if not isinstance(payload, list):
        raise Invalid({"fields": {"__all__": ["Expected a JSON array of fields."]}})
    errors: dict[str, dict] = {}
    for index, item in enumerate(payload):
        problems = _field_problems(item, page_count)
        if problems:
            errors[str(index)] = problems
    if errors:
        raise Invalid({"fields": errors})
    return payload


def _field_problems(item: object, page_count: int) -> dict[str, list[str]]:
    if not isinstance(item, dict):
        return {"__all__": ["Expected a JSON object."]}
    required = ("ax", "ay", "bx", "by", "element_type", "page", "signer")
    problems = {key: REQUIRED for key in required if key not in item}
    for key in ("ax", "ay", "bx", "by"):
        value = item.get(key)
        if key in item and not (_is_number(value) and 0 <= value <= 1):
            problems[key] = ["A fraction of the page between 0 and 1 is required."]
    if not problems and (item["ax"] >= item["bx"] or item["ay"] >= item["by"]):
        problems["bx"] = ["The bottom-right corner must lie right of and below the top-left corner."]
    if "element_type" in item and item["element_type"] not in ELEMENT_TYPES:
        problems["element_type"] = [f"Select one of {', '.join(ELEMENT_TYPES)}."]
    page = item.get("page")
    if "page" in item and not (_is_int(page) and 1 <= page <= page_count):
        problems["page"] = [f"The PDF has pages 1 to {page_count}."]
    signer = item.get("signer")
    if signer is not None and not (_is_int(signer) and signer >= 1):
        problems["signer"] = ["A 1-based signer number, or null for sender fields."]
    if not isinstance(item.get("label", ""), str) or not LABEL.match(item.get("label", "")):
        problems["label"] = ["Invalid characters."]
    return problems


def check_document(data: object, group: str, allowed_recipients: frozenset[str] | None) -> dict:
    """Validate a `POST /document/` body; returns the templatepdf id it references."""
    if not isinstance(data, dict):
        raise Invalid({"document": {"__all__": ["Expected a JSON object."]}})
    errors: dict = {}
    for key in ("group", "name", "templatepdf", "signers"):
        if not data.get(key):
            errors[key] = REQUIRED
    _check_group(data, group, errors)
    name = data.get("name")
    if name and (not isinstance(name, str) or len(name) > 60):
        errors["name"] = ["Ensure this value has at most 60 characters."]
    if data.get("templatepdf") and not TEMPLATEPDF_URI.match(str(data["templatepdf"])):
        errors["templatepdf"] = ["Expected a /api/v1/templatepdf/<id>/ resource URI."]
    if data.get("signature_type", 1) not in (1, 4):
        errors["signature_type"] = ["Select 1 or 4."]
    for flag in _DOCUMENT_FLAGS:
        if flag in data and not isinstance(data[flag], bool):
            errors[flag] = ["Must be a boolean."]
    if data.get("reminders", "") not in ("default", ""):
        errors["reminders"] = ["Use 'default' or an empty string."]
    redirect = data.get("redirect")
    if redirect and not (isinstance(redirect, str) and redirect.startswith("https://")
                         and len(redirect) <= 250):
        errors["redirect"] = ["An https:// URL of at most 250 characters is required."]
    for key in ("tag", "tag1", "tag2"):
        if not isinstance(data.get(key, ""), str) or not TAG.match(data.get(key, "")):
            errors[key] = ["Invalid characters, or more than 250 of them."]
    signers = data.get("signers")
    if signers and not isinstance(signers, list):
        errors["signers"] = ["Expected a list of signers."]
    elif signers:
        signer_errors = {str(index): problems for index, raw in enumerate(signers)
                         if (problems := _signer_problems(raw, allowed_recipients))}
        if signer_errors:
            errors["signers"] = signer_errors
    if errors:
        raise Invalid({"document": errors})
    return data


def _signer_problems(raw: object, allowed_recipients: frozenset[str] | None) -> dict[str, list[str]]:
    if not isinstance(raw, dict):
        return {"__all__": ["Expected a JSON object."]}
    problems = {k: REQUIRED for k in ("firstname", "lastname", "email") if not raw.get(k)}
    for key in ("firstname", "lastname"):
        if raw.get(key) and (not isinstance(raw[key], str) or not NAME.match(raw[key])):
            problems[key] = ["Letters, digits, spaces, hyphens and apostrophes only, at most 60."]
    email = raw.get("email")
    if email and (not isinstance(email, str) or len(email) > 75 or not EMAIL.match(email)):
        problems["email"] = ["Enter a valid email address."]
    elif email and allowed_recipients is not None and email.lower() not in allowed_recipients:
        problems["email"] = ["Sandbox accounts may only send to their whitelisted recipient emails."]
    if raw.get("sms") not in (None, "") and not PHONE.match(str(raw["sms"])):
        problems["sms"] = ["Enter a mobile number in international format, e.g. +447700900123."]
    if len(str(raw.get("subject", ""))) > 150:
        problems["subject"] = ["Ensure this value has at most 150 characters."]
    try:
        signer_deadline(raw)
    except ValueError as wrong:
        problems["expires"] = [str(wrong)]
    return problems


def signer_deadline(raw: dict) -> datetime | None:
    """`expires` in the signer's `timezone` (UTC by default), as an aware datetime."""
    if not raw.get("expires"):
        return None
    try:
        zone = ZoneInfo(str(raw.get("timezone") or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("Unknown timezone.") from None
    try:
        moment = datetime.fromisoformat(str(raw["expires"]))
    except ValueError:
        raise ValueError("Enter an ISO-8601 date-time.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def check_subscription(data: object, group: str) -> dict:
    errors: dict[str, list[str]] = {}
    if not isinstance(data, dict):
        raise Invalid({"subscribe": {"__all__": ["Expected a JSON object."]}})
    if not re.match(r"^(http|https)://", str(data.get("url", ""))):
        errors["url"] = ["A URL starting with http:// or https:// is required."]
    if data.get("notify") not in NOTIFY_WHEN:
        errors["notify"] = ["Select all, signed, sent, rejected or realtime."]
    if data.get("eventFilter", "") not in EVENT_FILTERS:
        errors["eventFilter"] = ["Unknown event filter."]
    if data.get("group") not in (None, "", group, f"/api/v1/group/{group}/"):
        errors["group"] = ["Unknown group or no access."]
    if errors:
        raise Invalid({"subscribe": errors})
    return data


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_group(data: dict, group: str, errors: dict) -> None:
    if not data.get("group"):
        errors["group"] = REQUIRED
        return
    match = GROUP_URI.match(str(data["group"]))
    if not match:
        errors["group"] = ["Expected a /api/v1/group/<slug>/ resource URI."]
    elif match.group(1) != group:
        errors["group"] = ["Unknown group or no access."]
