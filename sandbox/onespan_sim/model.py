"""The simulated OneSpan account's data: packages as Package JSON, ids, times and the error body."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime

CONSENT_ID = "default-consent"
OWNER_ID = "sender-owner-1"
EVENT_CLASS = "com.silanis.esl.packages.event.ESLProcessEvent"
STATUSES = ("DRAFT", "SENT", "COMPLETED", "ARCHIVED", "DECLINED", "OPTED_OUT", "EXPIRED")
# The names /api/callback accepts: the `Callback.events` enum of spec 11.51 (20 names). The Java SDK has known
# one more, DOCUMENT_VIEWED, since 11.39 (2021); a simulator built with `NEWER_EVENTS` plays a server that takes it.
EVENTS = frozenset({
    "PACKAGE_CREATE", "PACKAGE_ACTIVATE", "PACKAGE_DEACTIVATE", "PACKAGE_READY_FOR_COMPLETE",
    "PACKAGE_COMPLETE", "PACKAGE_DECLINE", "PACKAGE_OPT_OUT", "PACKAGE_EXPIRE", "PACKAGE_ARCHIVE",
    "PACKAGE_TRASH", "PACKAGE_RESTORE", "PACKAGE_DELETE", "PACKAGE_ATTACHMENT", "SIGNER_COMPLETE",
    "DOCUMENT_SIGNED", "ROLE_REASSIGN", "SIGNER_LOCKED", "KBA_FAILURE", "EMAIL_BOUNCE", "TEMPLATE_CREATE",
})
NEWER_EVENTS = EVENTS | {"DOCUMENT_VIEWED"}


class OneSpanError(Exception):
    """An error answered as OneSpan's DefaultError body: {code, messageKey, message, technical, name}.

    Keys marked unconfirmed in the reference are invented in OneSpan's `error.<category>.<detail>` style.
    """

    def __init__(self, code: int, key: str, message: str, name: str = "Validation Error", *,
                 parameters: dict | None = None):
        super().__init__(message)
        self.code, self.key, self.message, self.name = code, key, message, name
        self.parameters = parameters

    def body(self) -> dict:
        body = {"code": self.code, "messageKey": self.key, "message": self.message, "technical": self.message,
                "name": self.name}
        return body if self.parameters is None else {**body, "parameters": self.parameters}


def invalid(message: str, key: str = "error.validation.packageValidation") -> OneSpanError:
    return OneSpanError(400, key, message)


def not_found(what: str, key: str) -> OneSpanError:
    return OneSpanError(404, key, f"The {what} was not found.", "Not Found")


def new_package_id() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(20)).decode()


def new_short_id() -> str:
    return secrets.token_urlsafe(9)


def iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def parse_date(text: object) -> datetime | None:
    """Any ISO-8601 date-time; a date without a zone is UTC, as the SDK writes it."""
    if not isinstance(text, str):
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass
class Package:
    id: str
    payload: dict  # the Package JSON as GET /api/packages/{id} returns it
    files: dict[str, bytes]  # document id -> original PDF
    created: datetime
    sms_codes: dict[str, str] = field(default_factory=dict)  # role id -> code the sandbox "sent"
    sms_verified: set[str] = field(default_factory=set)
    signing_keys: dict[str, str] = field(default_factory=dict)  # signing-page key -> role id
    signed_pdfs: dict[str, bytes] = field(default_factory=dict)  # frozen at completion
    evidence: bytes | None = None
    reminders: dict | None = None
    audit: list[tuple[datetime, str]] = field(default_factory=list)
    notifications: int = 0  # invitations re-sent through POST .../notifications

    @property
    def status(self) -> str:
        return self.payload["status"]

    @property
    def trashed(self) -> bool:
        return bool(self.payload.get("trashed"))

    @property
    def open_for_signing(self) -> bool:
        return self.status == "SENT" and not self.trashed

    def signer_roles(self) -> list[dict]:
        roles = [r for r in self.payload["roles"] if r.get("type", "SIGNER") == "SIGNER" and r.get("signers")]
        return sorted(roles, key=lambda r: r.get("index", 0))

    def role(self, role_id: str) -> dict | None:
        return next((r for r in self.signer_roles() if r["id"] == role_id), None)

    def role_for_email(self, email: str) -> dict | None:
        wanted = email.lower()
        return next((r for r in self.signer_roles() if r["signers"][0]["email"].lower() == wanted), None)

    def documents(self) -> list[dict]:
        """The caller's documents, in ceremony order (the consent document left out)."""
        docs = [d for d in self.payload["documents"] if d["id"] != CONSENT_ID]
        return sorted(docs, key=lambda d: d.get("index", 0))

    def approvals(self, role_id: str) -> list[dict]:
        return [a for d in self.documents() for a in d.get("approvals", []) if a["role"] == role_id]

    def consent_approval(self, role_id: str) -> dict | None:
        consent = next((d for d in self.payload["documents"] if d["id"] == CONSENT_ID), None)
        return next((a for a in (consent or {}).get("approvals", []) if a["role"] == role_id), None)

    def role_signed(self, role_id: str) -> bool:
        mine = self.approvals(role_id)
        return bool(mine) and all(a.get("signed") for a in mine)

    def all_signed(self) -> bool:
        return all(self.role_signed(r["id"]) for r in self.signer_roles())

    def waiting_for(self, role: dict) -> dict | None:
        """The first role with a lower index that has not signed yet. Equal indexes sign in parallel
        (the reference leaves that open; this is the sandbox's choice)."""
        return next((r for r in self.signer_roles() if r.get("index", 0) < role.get("index", 0)
                     and not self.role_signed(r["id"])), None)

    def public_view(self) -> dict:
        return {k: v for k, v in self.payload.items() if not k.startswith("_")}
