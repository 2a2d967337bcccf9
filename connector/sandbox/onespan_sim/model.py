"""Packages as the simulated OneSpan account keeps them, with the validation of a create."""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_FORBIDDEN_NAME = re.compile(r'[*/\\:<>|?"]')
SCHEMES = {"NONE", "PROVIDER", "CHALLENGE", "SMS", "SSO", "KBA", "SAA"}


class OneSpanError(Exception):
    """A DefaultError body: {code, messageKey, message, name}."""

    def __init__(self, code: int, key: str, message: str, name: str = "Validation Error"):
        super().__init__(message)
        self.code, self.key, self.message, self.name = code, key, message, name

    def body(self) -> dict:
        return {"code": self.code, "messageKey": self.key, "message": self.message, "technical": self.message,
                "name": self.name}


def invalid(message: str, key: str = "error.validation.packageValidation") -> OneSpanError:
    return OneSpanError(400, key, message)


def new_package_id() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(20)).decode()


@dataclass
class Package:
    id: str
    payload: dict  # the Package JSON, kept and enriched as OneSpan would
    files: dict[str, bytes]  # document id -> original PDF
    created: datetime
    sms_codes: dict[str, str] = field(default_factory=dict)  # role id -> code the sandbox "sent"
    sms_verified: set[str] = field(default_factory=set)
    signing_keys: dict[str, str] = field(default_factory=dict)  # page key -> role id
    signed_pdfs: dict[str, bytes] = field(default_factory=dict)
    evidence: bytes | None = None
    audit: list[tuple[datetime, str]] = field(default_factory=list)
    notifications: int = 0

    @property
    def status(self) -> str:
        return self.payload["status"]

    def signer_roles(self) -> list[dict]:
        return sorted((r for r in self.payload["roles"] if r.get("type") == "SIGNER"), key=lambda r: r.get("index", 0))

    def role_for_email(self, email: str) -> dict | None:
        return next((r for r in self.signer_roles() if r["signers"][0]["email"].lower() == email.lower()), None)

    def approvals(self, role_id: str) -> list[dict]:
        return [a for d in self.payload["documents"] if d["id"] != "default-consent" for a in d["approvals"]
                if a["role"] == role_id]

    def role_signed(self, role_id: str) -> bool:
        mine = self.approvals(role_id)
        return bool(mine) and all(a.get("signed") for a in mine)


def validate_create(payload: dict, file_names: list[str]) -> None:
    if not isinstance(payload, dict) or not isinstance(payload.get("name"), str) or not payload["name"].strip():
        raise invalid("The package name is required.", "error.validation.package.name")
    if payload.get("status", "DRAFT") not in ("DRAFT", "SENT"):
        raise invalid("A package can only be created as DRAFT or SENT.", "error.validation.package.status")
    role_ids = set()
    for role in payload.get("roles", []):
        if not isinstance(role, dict) or not role.get("id"):
            raise invalid("Every role needs an id.", "error.validation.role.id")
        role_ids.add(role["id"])
        for signer in role.get("signers", []):
            if not _EMAIL.match(str(signer.get("email", ""))):
                raise invalid(f"Invalid email address for role {role['id']}.", "error.validation.signer.email")
            if not signer.get("firstName") or not signer.get("lastName"):
                raise invalid(f"Signer of role {role['id']} needs firstName and lastName.",
                              "error.validation.signer.name")
            auth = signer.get("auth") or {"scheme": "NONE"}
            if auth.get("scheme") not in SCHEMES:
                raise invalid(f"Unknown authentication scheme {auth.get('scheme')}.", "error.validation.auth.scheme")
            if auth.get("scheme") == "SMS" and not re.match(r"^\+\d{7,15}$", str(
                    (auth.get("challenges") or [{}])[0].get("question", ""))):
                raise invalid(f"SMS authentication for role {role['id']} needs a phone number in E.164 form.",
                              "error.validation.auth.smsPhone")
    for document in payload.get("documents", []):
        name = document.get("name")
        if not isinstance(name, str) or not name or len(name) > 256 or _FORBIDDEN_NAME.search(name) \
                or "esigned" in name:
            raise invalid(f"Invalid document name {name!r}.", "error.validation.document.name")
        if name not in file_names and not document.get("base64Content"):
            raise invalid(f"No file part for document {name!r}.", "error.validation.document.missingFile")
        for approval in document.get("approvals", []):
            if approval.get("role") not in role_ids:
                raise invalid(f"Approval for unknown role {approval.get('role')!r}.", "error.validation.approval.role")
            if not any(f.get("type") == "SIGNATURE" for f in approval.get("fields", [])):
                raise invalid("An approval needs a SIGNATURE field.", "error.validation.approval.fields")
