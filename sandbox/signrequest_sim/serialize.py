"""Documents, signrequests, signers and events as SignRequest's JSON shows them (reference §3.5, §4-§6)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from sandbox.signrequest_sim.state import Document, Event, Signer, Store

SIGNREQUEST_DEFAULTS = {
    "from_email": None, "from_email_name": None, "is_being_prepared": False, "prepare_url": None,
    "redirect_url": None, "redirect_url_declined": None, "required_attachments": [],
    "disable_attachments": False, "disable_text_signatures": False, "disable_text": False,
    "disable_date": False, "disable_emails": False, "disable_upload_signatures": False,
    "disable_blockchain_proof": False,
    "text_message_verification_locked": False, "subject": None, "message": None, "who": "o",
    "send_reminders": False, "integration": None, "integration_data": None,
}
SIGNER_DEFAULTS = {
    "approve_only": False, "notify_only": False, "in_person": False, "language": None,
    "force_language": False, "verify_phone_number": None, "verify_bank_account": None,
    "embed_url_user_id": None,
    "use_stamp_for_approve_only": False, "redirect_url": None, "redirect_url_declined": None,
    "after_document": None, "integrations": [],
}
DOCUMENT_ECHOED = ("external_id", "frontend_id", "events_callback_url", "auto_delete_days",
                   "auto_expire_days")


def _sha256(content: bytes | None) -> str:
    return hashlib.sha256(content or b"").hexdigest()


def iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Team:
    name: str
    subdomain: str
    api: str  # absolute base of the API, e.g. http://127.0.0.1:8000/api/v1

    def as_json(self) -> dict:
        return {"name": self.name, "subdomain": self.subdomain, "url": f"{self.api}/teams/{self.subdomain}/"}


class Serializer:
    """Builds JSON for one public base URL; every call mints fresh five-minute file links."""

    def __init__(self, store: Store, public_url: str, team_name: str, team_subdomain: str):
        self.store = store
        self.base = public_url.rstrip("/")
        self.team = Team(team_name, team_subdomain, f"{self.base}/api/v1")

    def document_url(self, document: Document) -> str:
        return f"{self.team.api}/documents/{document.uuid}/"

    def signrequest_url(self, document: Document) -> str:
        assert document.signrequest is not None
        return f"{self.team.api}/signrequests/{document.signrequest.uuid}/"

    def signing_page(self, signer: Signer) -> str:
        return f"{self.base}/sign/{signer.key}"

    def _file(self, document: Document, kind: str) -> str:
        return self.base + self.store.file_link(document, kind)

    def signer(self, signer: Signer) -> dict:
        name = signer.full_name
        return {
            "email": signer.email, "display_name": f"{name} ({signer.email})" if name else signer.email,
            "first_name": signer.first_name, "last_name": signer.last_name, "order": signer.order,
            "needs_to_sign": signer.needs_to_sign, "message": signer.message,
            **SIGNER_DEFAULTS, **{k: v for k, v in signer.options.items() if k != "password"},  # write-only
            "emailed": signer.emailed, "email_viewed": signer.viewed, "viewed": signer.viewed,
            "signed": signer.signed, "signed_on": iso(signer.signed_on), "declined": signer.declined,
            "declined_on": iso(signer.declined_on), "downloaded": False, "forwarded": False,
            "forwarded_on": None, "forwarded_to_email": None, "forwarded_reason": None, "inputs": [],
            "attachments": [],
            "embed_url": self.signing_page(signer) if signer.options.get("embed_url_user_id") else None,
        }

    def _signrequest_fields(self, document: Document) -> dict:
        assert document.signrequest is not None
        fields = {**SIGNREQUEST_DEFAULTS, **document.signrequest.fields}
        if fields["is_being_prepared"] and document.status == "ne":
            fields["prepare_url"] = f"{self.base}/"
        signers = [self.signer(s) for s in document.signers]
        return {**fields, "uuid": document.signrequest.uuid, "signers": signers}

    def signrequest(self, document: Document) -> dict:
        """GET /signrequests/{uuid}/ and the answer to POST /signrequests/."""
        return {"url": self.signrequest_url(document), **self._signrequest_fields(document),
                "document": self.document_url(document)}

    def quick_create(self, document: Document) -> dict:
        """SignRequestQuickCreate: the signrequest's and the document's fields in one flat object."""
        echoed = {key: document.options.get(key) for key in DOCUMENT_ECHOED}
        return {**self.signrequest(document), **echoed, "name": document.name, "file_from_url": None,
                "template": None, "prefill_tags": [], "integrations": [], "file_from_sf": None}

    def document(self, document: Document) -> dict:
        signed = document.signed_pdf is not None and document.signing_log is not None
        return {
            "url": self.document_url(document), "uuid": document.uuid, "team": self.team.as_json(),
            "user": None, "name": document.name, **{k: document.options.get(k) for k in DOCUMENT_ECHOED},
            "file_from_url": None, "template": None, "prefill_tags": [], "integrations": [],
            "file_from_sf": None, "file": self._file(document, "file"),
            "file_as_pdf": self._file(document, "file_as_pdf") if document.converted else None,
            "pdf": self._file(document, "pdf") if signed else None,
            "signing_log": {"pdf": self._file(document, "signing_log"),
                            "security_hash": _sha256(document.signing_log)} if signed else None,
            "security_hash": _sha256(document.signed_pdf) if signed else None,
            "status": document.status,
            "signrequest": self._signrequest_fields(document) if document.signrequest else None,
            "api_used": True, "attachments": [], "auto_expire_after": iso(document.expires_at),
            "auto_delete_after": iso(document.deleted_at), "sandbox": True, "processing": False,
        }

    def event(self, event: Event, callback_status_code: int | None, delivered_on: float | None) -> dict:
        """An entry of GET /events/, with what became of its callback."""
        return {
            "uuid": event.uuid, "status": event.status, "event_type": event.event_type,
            "delivered": delivered_on is not None, "delivered_on": iso(delivered_on),
            "callback_status_code": callback_status_code, "timestamp": iso(event.at),
            "team": self.team.as_json(), "document": self.document(event.document),
            "signer": self.signer(event.signer) if event.signer else None,
        }

    def callback(self, event: Event, api_token_hash: str, token_name: str) -> dict:
        """The body POSTed to the document's events_callback_url (reference §6.2)."""
        return {
            "uuid": event.uuid, "status": event.status, "event_type": event.event_type,
            "event_time": str(int(event.at)), "timestamp": iso(event.at), "event_hash": api_token_hash,
            "token_name": token_name, "team": {"name": self.team.name, "subdomain": self.team.subdomain},
            "document": self.document(event.document),
            "signer": self.signer(event.signer) if event.signer else None,
        }
