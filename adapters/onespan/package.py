"""The OneSpan Package JSON for one signing request (the `payload` part of the multipart create)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from pypdf.errors import PdfReadError

from adapters.onespan.layout import PageTooSmall, signature_boxes
from connector.ports.provider import ProviderValidationError, SignerAuth, SigningRequestSpec

PROVIDER = "OneSpan Sign"
REMINDERS = {"startInDaysDelay": 2, "intervalInDays": 3, "repetitionsCount": 4}  # when the rule names none


def reminder_body(send_reminders: bool, schedule: tuple[int, int] | None) -> dict | None:
    """The reminder schedule to give a package before it is sent (None: no reminders)."""
    if not send_reminders:
        return None
    if schedule is None:
        return dict(REMINDERS)
    interval, count = schedule
    return {"startInDaysDelay": interval, "intervalInDays": interval, "repetitionsCount": count}


def reminders_wanted(data: dict) -> dict | None:
    """The schedule a draft was created with, read back from its `data` (a draft left by a crash is sent alike)."""
    schedule = None
    interval, _, count = str(data.get("reminderSchedule", "")).partition("/")
    if interval.isdigit() and count.isdigit():
        schedule = (int(interval), int(count))
    return reminder_body(data.get("sendReminders", "true") == "true", schedule)
_FORBIDDEN_NAME = re.compile(r'[*/\\:<>|?"]')
_PHONE_PUNCTUATION = re.compile(r"[\s().\-]")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def role_id(position: int) -> str:
    """Role (and signer) ids are ours to choose; position-based so equal signing orders cannot collide."""
    return f"signer{position}"


def document_names(titles: list[str]) -> list[str]:
    """OneSpan's rules: at most 256 characters, none of * / \\ : < > | ? ", never the word "esigned".
    Names are also made unique, because file parts are matched to documents by name."""
    names: list[str] = []
    for title in titles:
        base = _FORBIDDEN_NAME.sub("-", title)
        base = re.sub("esigned", "e-signed", base, flags=re.IGNORECASE).strip()[:240] or "Document"
        name, copy = base, 2
        while name in names:
            name, copy = f"{base} ({copy})", copy + 1
        names.append(name)
    return names


def e164(phone: str | None) -> str | None:
    cleaned = _PHONE_PUNCTUATION.sub("", phone or "")
    if cleaned.startswith("00"):
        cleaned = "+" + cleaned[2:]
    return cleaned if _E164.match(cleaned) else None


def _role(position: int, signer) -> dict:
    auth: dict = {"scheme": "NONE", "challenges": []}
    if signer.auth == SignerAuth.SMS:
        phone = e164(signer.mobile_phone)
        if phone is None:
            raise ProviderValidationError(PROVIDER, f"signer {signer.email} needs a mobile phone number in "
                                          "international form (+<country><number>) for SMS authentication")
        auth = {"scheme": "SMS", "challenges": [{"question": phone}]}
    rid = role_id(position)
    return {"id": rid, "name": rid, "type": "SIGNER", "index": signer.order, "signers": [
        {"id": rid, "email": signer.email, "auth": auth, "delivery": {"email": True},
         "firstName": signer.first_name.strip() or signer.email.split("@")[0],
         "lastName": signer.last_name.strip() or "-"}]}


def _documents(spec: SigningRequestSpec, names: list[str]) -> list[dict]:
    documents = []
    for index, (document, name) in enumerate(zip(spec.documents, names, strict=True), start=1):
        try:
            boxes = signature_boxes(document.content, len(spec.signers))
        except PageTooSmall as exc:
            raise ProviderValidationError(PROVIDER, f"document {document.filename!r}: {exc}") from None
        except (PdfReadError, ValueError, KeyError, IndexError):
            raise ProviderValidationError(PROVIDER, f"document {document.filename!r} is not a readable PDF") \
                from None
        approvals = [{"role": role_id(position),
                      "fields": [{"type": "SIGNATURE", "subtype": "FULLNAME", **box}]}
                     for position, box in enumerate(boxes, start=1)]
        documents.append({"id": f"doc{index}", "name": name, "index": index, "approvals": approvals})
    return documents


def package_payload(spec: SigningRequestSpec, now: datetime) -> dict:
    """A DRAFT package: the reminder schedule can only be set before it is sent."""
    if not spec.documents or not spec.signers:
        raise ProviderValidationError(PROVIDER, "a request needs at least one document and one signer")
    names = document_names([d.title for d in spec.documents])
    payload = {
        "name": spec.subject.strip()[:255] or "Signature request", "description": spec.message[:2000],
        "emailMessage": spec.message, "type": "PACKAGE", "status": "DRAFT", "autocomplete": True,
        "language": spec.language,
        "settings": {"ceremony": {"declineButton": True}},
        "roles": [_role(position, signer) for position, signer in enumerate(spec.signers, start=1)],
        "documents": _documents(spec, names),
        # Read back by find_by_external_id; sendReminders lets a draft left by a crash be finished alike.
        "data": {"externalId": spec.external_id, "origin": "esign-connector",
                 "sendReminders": "true" if spec.send_reminders else "false",
                 **({"reminderSchedule": "{}/{}".format(*spec.reminder_schedule)} if spec.reminder_schedule else {})},
    }
    if spec.expires_in_days:
        payload["due"] = (now + timedelta(days=spec.expires_in_days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return payload
