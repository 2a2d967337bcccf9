"""The simulated SignRequest team: document lifecycle, signer actions and events."""

from __future__ import annotations

import base64
import binascii
import time
import uuid
from datetime import UTC, datetime

from connector.sandbox.callbacks import CallbackSender, SendsCallbacks
from connector.sandbox.signrequest_sim.callbacks import event_hash
from connector.sandbox.signrequest_sim.serialize import Urls, document_json, signer_json
from connector.sandbox.signrequest_sim.state import (
    FINAL,
    Document,
    Signer,
    Store,
    finish_signing,
    required,
    waiting_for,
)
from connector.sandbox.signrequest_sim.validation import Invalid, check_document, check_signrequest


class ActionRefused(ValueError):
    pass


class SignRequestSimulator(SendsCallbacks):
    def __init__(self, api_token: str = "sandbox-signrequest-token", token_name: str = "Token",  # noqa: S107
                 team_subdomain: str = "sandbox", team_name: str = "Sandbox team",
                 from_email: str = "sender@sandbox.example", callback_retry_delays=(0.2, 0.2, 0.4, 0.6, 1.0),
                 public_url: str | None = None):
        self.api_token = api_token
        self.token_name = token_name
        self.team_subdomain = team_subdomain
        self.team_name = team_name
        self.from_email = from_email
        self.store = Store()
        self.events: list[dict] = []
        self.sender = CallbackSender(tuple(callback_retry_delays))
        self.public_url = public_url or "http://127.0.0.1"
        from connector.sandbox.signrequest_sim.api import build_app

        self.app = build_app(self)

    # --- helpers used by the API and by tests ----------------------------------------------

    @property
    def urls(self) -> Urls:
        return Urls(self.public_url, self.team_subdomain)

    def team(self) -> dict:
        return {**self.urls.team, "name": self.team_name}

    def to_json(self, document: Document) -> dict:
        return document_json(document, self.urls, self.store, self.team())

    def documents(self) -> list[dict]:
        with self.store.lock:
            return [self.to_json(d) for d in self.store.documents.values()]

    def document(self, document_uuid: str) -> dict:
        with self.store.lock:
            return self.to_json(self.store.documents[document_uuid])

    def awaiting_signature(self) -> list[tuple[str, str]]:
        """(document uuid, email) of every signer whose turn it is, without serialising documents."""
        with self.store.lock:
            return [(d.uuid, s.email) for d in self.store.documents.values() if d.status in ("se", "vi")
                    for s in required(d) if not s.signed and waiting_for(d, s) is None]

    def find_by_external_id(self, external_id: str) -> list[dict]:
        return [d for d in self.documents() if d["external_id"] == external_id]

    @property
    def create_calls(self) -> int:
        return self.store.create_calls


    # --- creating ----------------------------------------------------------------------------

    def create_document(self, data: dict) -> Document:
        check_document(data)
        try:
            content = base64.b64decode(data["file_from_content"], validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise Invalid({"file_from_content": ["Invalid base64 content."]}) from None
        with self.store.lock:
            document = self.store.add(data.get("name") or data["file_from_content_name"], content,
                                      data.get("external_id"), data.get("events_callback_url"),
                                      data.get("auto_expire_days"), data.get("auto_delete_days"))
            self.store.create_calls += 1
            document.status = "ne" if content.startswith(b"%PDF-") else "ec"
            self._emit(document, "converted" if document.status == "ne" else "convert_error")
        return document

    def send(self, document: Document, data: dict) -> None:
        check_signrequest(data)
        with self.store.lock:
            if document.signrequest is not None:
                raise Invalid({"document": ["This document already has a signing request."]})
            who = data.get("who", "o")
            sender = Signer(email=data.get("from_email") or self.from_email, order=0, needs_to_sign=who in ("m", "mo"))
            document.signers = [sender] + [Signer(
                email=s["email"], first_name=s.get("first_name") or "", last_name=s.get("last_name") or "",
                order=s.get("order", 0), needs_to_sign=s.get("needs_to_sign", True),
                verify_phone_number=s.get("verify_phone_number"), language=s.get("language"))
                for s in data["signers"]]
            document.signrequest = {
                "uuid": str(uuid.uuid4()), "from_email": sender.email, "from_email_name": data.get("from_email_name"),
                "who": who, "subject": data.get("subject"), "message": data.get("message"),
                "send_reminders": bool(data.get("send_reminders", False)), "is_being_prepared": False,
                "prepare_url": None, "redirect_url": data.get("redirect_url"),
                "redirect_url_declined": data.get("redirect_url_declined"),
            }
            document.status = "se"
            for signer in required(document):
                signer.emailed = waiting_for(document, signer) is None
            document.log.append((self.store.clock(), f"Sent to {', '.join(s.email for s in required(document))}"))
            self._emit(document, "sent")

    # --- signer actions ----------------------------------------------------------------------

    def _signer(self, document_uuid: str, email: str) -> tuple[Document, Signer]:
        document = self.store.documents.get(document_uuid)
        if document is None:
            raise ActionRefused(f"no document {document_uuid}")
        signer = next((s for s in required(document) if s.email.lower() == email.lower()), None)
        if signer is None:
            raise ActionRefused(f"{email} is not a signer of {document.name}")
        if document.status in FINAL:
            raise ActionRefused(f"the document is already finished (status {document.status})")
        return document, signer

    def view(self, document_uuid: str, signer_email: str) -> None:
        with self.store.lock:
            document, signer = self._signer(document_uuid, signer_email)
            if not signer.viewed:
                signer.viewed = True
                document.status = "vi" if document.status in ("se", "ne") else document.status
                document.log.append((self.store.clock(), f"Viewed by {signer.email}"))
                self._emit(document, "signer_viewed", signer)

    def sign(self, document_uuid: str, signer_email: str) -> None:
        with self.store.lock:
            document, signer = self._signer(document_uuid, signer_email)
            earlier = waiting_for(document, signer)
            if earlier:
                raise ActionRefused(f"{signer.email} must wait for {earlier.email} to sign first")
            if signer.verify_phone_number and not signer.sms_verified:
                raise ActionRefused(f"{signer.email} must enter the SMS code first")
            if signer.signed:
                raise ActionRefused(f"{signer.email} has already signed")
            now = self.store.clock()
            signer.viewed, signer.signed, signer.signed_on = True, True, now
            document.log.append((now, f"Signed by {signer.email}"))
            for later in required(document):
                later.emailed = later.emailed or waiting_for(document, later) is None
            self._emit(document, "signer_signed", signer)
            if all(s.signed for s in required(document)):
                finish_signing(document, now)
                self._emit(document, "signed")
            elif document.status in ("se", "ne"):
                document.status = "vi"

    def sms_code(self, document_uuid: str, signer_email: str) -> str:
        """The code the sandbox would have sent to the signer's phone (verify_phone_number)."""
        with self.store.lock:
            return self._signer(document_uuid, signer_email)[1].sms_code

    def enter_sms_code(self, document_uuid: str, signer_email: str, code: str) -> bool:
        with self.store.lock:
            document, signer = self._signer(document_uuid, signer_email)
            signer.sms_verified = signer.sms_verified or code.strip() == signer.sms_code
            document.log.append((self.store.clock(), f"SMS verification {'passed' if signer.sms_verified else 'failed'}"
                                 f" for {signer.email}"))
            return signer.sms_verified

    def decline(self, document_uuid: str, signer_email: str, reason: str) -> None:
        with self.store.lock:
            document, signer = self._signer(document_uuid, signer_email)
            now = self.store.clock()
            # Whether SignRequest exposes a decline reason is unconfirmed; the sandbox keeps it in the
            # signer's free-text `message`, where the adapter looks for it.
            signer.declined, signer.declined_on, signer.message = True, now, reason
            document.status = "de"
            document.log.append((now, f"Declined by {signer.email}: {reason}"))
            self._emit(document, "declined", signer)

    def expire(self, document_uuid: str) -> None:
        with self.store.lock:
            document = self.store.documents[document_uuid]
            if document.status in FINAL:
                raise ActionRefused(f"the document is already finished (status {document.status})")
            document.status = "xp"
            document.log.append((self.store.clock(), "Expired"))
            self._emit(document, "expired")

    def cancel(self, signrequest_uuid: str) -> Document:
        with self.store.lock:
            document = next((d for d in self.store.documents.values()
                             if d.signrequest and d.signrequest["uuid"] == signrequest_uuid), None)
            if document is None:
                raise KeyError(signrequest_uuid)
            if document.status in FINAL:
                raise ActionRefused("This signrequest cannot be cancelled: it is already finished.")
            document.status = "ca"
            document.log.append((self.store.clock(), "Cancelled by the sender"))
            self._emit(document, "cancelled")
            return document

    def signing_url(self, document_uuid: str, signer_email: str) -> str:
        with self.store.lock:
            document = self.store.documents[document_uuid]
            signer = next(s for s in required(document) if s.email.lower() == signer_email.lower())
            return f"{self.public_url}/sign/{signer.key}"

    # --- events ------------------------------------------------------------------------------

    def _emit(self, document: Document, event_type: str, signer: Signer | None = None) -> None:
        event_uuid = str(uuid.uuid4())
        status = "error" if event_type in ("convert_error", "sending_error", "signer_email_bounced") else "ok"
        event_time = str(int(time.time()))
        timestamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        self.events.append({"uuid": event_uuid, "status": status, "event_type": event_type, "timestamp": timestamp,
                            "document_uuid": document.uuid, "external_id": document.external_id,
                            "signer": signer_json(signer) if signer else None})

        def build() -> dict:
            with self.store.lock:
                return {"uuid": event_uuid, "status": status, "event_type": event_type, "event_time": event_time,
                        "timestamp": timestamp,
                        "event_hash": event_hash(self.api_token, event_time, event_type),
                        "token_name": self.token_name, "team": {"name": self.team_name,
                                                                "subdomain": self.team_subdomain},
                        "document": self.to_json(document), "signer": signer_json(signer) if signer else None}

        if document.events_callback_url:
            self.sender.send(document.events_callback_url, build, event_type, event_uuid)
