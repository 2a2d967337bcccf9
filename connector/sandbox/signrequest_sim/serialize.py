"""Documents and signers as SignRequest's JSON shows them."""

from __future__ import annotations

import hashlib
from datetime import datetime

from connector.sandbox.signrequest_sim.state import Document, Signer, Store, expiry


def iso(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if value else None


def signer_json(signer: Signer) -> dict:
    name = f"{signer.first_name} {signer.last_name}".strip()
    return {
        "email": signer.email, "first_name": signer.first_name, "last_name": signer.last_name,
        "display_name": f"{name} ({signer.email})" if name else signer.email, "order": signer.order,
        "needs_to_sign": signer.needs_to_sign, "verify_phone_number": signer.verify_phone_number,
        "language": signer.language, "emailed": signer.emailed, "viewed": signer.viewed, "signed": signer.signed,
        "signed_on": iso(signer.signed_on), "declined": signer.declined, "declined_on": iso(signer.declined_on),
        "message": signer.message, "embed_url": None, "inputs": [], "attachments": [],
    }


class Urls:
    def __init__(self, base: str, team_subdomain: str):
        self.base = base.rstrip("/")
        self.api = f"{self.base}/api/v1"
        self.team = {"name": "Sandbox team", "subdomain": team_subdomain, "url": f"{self.api}/teams/{team_subdomain}/"}

    def document(self, document: Document) -> str:
        return f"{self.api}/documents/{document.uuid}/"

    def signrequest(self, document: Document) -> str:
        return f"{self.api}/signrequests/{document.signrequest['uuid']}/"


def signrequest_json(document: Document, urls: Urls) -> dict | None:
    if document.signrequest is None:
        return None
    return {**document.signrequest, "url": urls.signrequest(document), "document": urls.document(document),
            "signers": [signer_json(s) for s in document.signers]}


def document_json(document: Document, urls: Urls, store: Store, team: dict) -> dict:
    signed = document.signed_pdf is not None
    return {
        "url": urls.document(document), "uuid": document.uuid, "team": team, "user": None,
        "name": document.name, "external_id": document.external_id, "frontend_id": None,
        "events_callback_url": document.events_callback_url, "file_from_url": None, "template": None,
        "prefill_tags": [], "integrations": [], "file_from_sf": None,
        "auto_delete_days": document.auto_delete_days, "auto_expire_days": document.auto_expire_days,
        "auto_expire_after": iso(expiry(document)), "auto_delete_after": None,
        "file": store.file_url(urls.base, document, "original"),
        "file_as_pdf": store.file_url(urls.base, document, "original"),
        "pdf": store.file_url(urls.base, document, "pdf") if signed else None,
        "signing_log": {"pdf": store.file_url(urls.base, document, "signing_log"),
                        "security_hash": hashlib.sha256(document.signing_log).hexdigest()} if signed else None,
        "security_hash": hashlib.sha256(document.signed_pdf).hexdigest() if signed else None,
        "status": document.status, "signrequest": signrequest_json(document, urls), "api_used": True,
        "attachments": [], "sandbox": True, "processing": False,
    }
