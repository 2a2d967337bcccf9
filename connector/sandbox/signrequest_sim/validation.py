"""Input checks with DRF-style error bodies: {"field": ["message"]}, nested per signer."""

from __future__ import annotations

import re

LANGUAGES = {"en", "en-gb", "nl", "fr", "de", "he", "da", "fi", "hu", "it", "no", "pl", "pt", "es", "sv", "ru", "ja"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_INT = 2147483647


class Invalid(Exception):
    def __init__(self, errors: dict):
        super().__init__(str(errors))
        self.errors = errors


def _length(errors: dict, data: dict, field: str, limit: int) -> None:
    value = data.get(field)
    if value is not None and (not isinstance(value, str) or len(value) > limit):
        errors[field] = [f"Ensure this field has no more than {limit} characters."]


def _days(errors: dict, data: dict, field: str) -> None:
    value = data.get(field)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 730):
        errors[field] = ["Ensure this value is between 1 and 730."]


def check_document(data: dict, *, require_source: bool = True) -> None:
    errors: dict = {}
    for field, limit in (("name", 255), ("external_id", 255), ("events_callback_url", 2100)):
        _length(errors, data, field, limit)
    _days(errors, data, "auto_expire_days")
    _days(errors, data, "auto_delete_days")
    if data.get("file_from_content") and not data.get("file_from_content_name"):
        errors["file_from_content_name"] = ["This field is required when file_from_content is given."]
    if data.get("file_from_url"):
        errors["file_from_url"] = ["The sandbox cannot fetch files from URLs."]
    if require_source and not (data.get("file_from_content") or data.get("file_from_url") or data.get("template")):
        errors.setdefault("non_field_errors", []).append("A document source is required: file_from_content, "
                                                         "file_from_url, file or template.")
    if errors:
        raise Invalid(errors)


def check_signrequest(data: dict) -> None:
    errors: dict = {}
    _length(errors, data, "subject", 512)
    _length(errors, data, "from_email", 255)
    if data.get("who", "o") not in ("m", "mo", "o"):
        errors["who"] = [f"\"{data.get('who')}\" is not a valid choice."]
    signers = data.get("signers")
    if not isinstance(signers, list) or not signers:
        errors["signers"] = ["This field is required."]
    else:
        per_signer, bad = [], False
        for signer in signers:
            problems: dict = {}
            if not isinstance(signer, dict):
                problems["non_field_errors"] = ["Invalid data. Expected a dictionary."]
            else:
                email = signer.get("email")
                if not email:
                    problems["email"] = ["This field is required."]
                elif not isinstance(email, str) or not _EMAIL.match(email) or len(email) > 255:
                    problems["email"] = ["Enter a valid email address."]
                order = signer.get("order", 0)
                if not isinstance(order, int) or isinstance(order, bool) or not 0 <= order <= MAX_INT:
                    problems["order"] = [f"Ensure this value is between 0 and {MAX_INT}."]
                if signer.get("language") is not None and signer["language"] not in LANGUAGES:
                    problems["language"] = [f"\"{signer['language']}\" is not a valid choice."]
                phone = signer.get("verify_phone_number")
                if phone is not None and (not isinstance(phone, str) or not re.match(r"^\+\d{6,15}$", phone)):
                    problems["verify_phone_number"] = ["Enter a phone number in international format, e.g. +31..."]
            per_signer.append(problems)
            bad = bad or bool(problems)
        if bad:
            errors["signers"] = per_signer
    if errors:
        raise Invalid(errors)
