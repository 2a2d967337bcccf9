"""The simulated SignRequest team: document lifecycle, signer actions and the events they raise."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Collection

from sandbox.callbacks import CallbackSender, SendsCallbacks
from sandbox.faults import FaultInjector, Faults
from sandbox.signrequest_sim.callbacks import event_hash
from sandbox.signrequest_sim.fields import FieldError
from sandbox.signrequest_sim.intake import convertible, new_document, signers_for
from sandbox.signrequest_sim.serialize import Serializer
from sandbox.signrequest_sim.signing import FINISHED_WORDS, ActionRefused, SignerActions
from sandbox.signrequest_sim.state import (
    AWAITING_SIGNERS,
    FINISHED,
    Document,
    Event,
    Signer,
    SignRequest,
    Store,
)
from sandbox.signrequest_sim.validation import (
    Invalid,
    check_document,
    check_signrequest,
    document_uuid_from_link,
)

MAX_CALLBACK_ATTEMPTS = 10


class SignRequestSimulator(SignerActions, SendsCallbacks):
    def __init__(self, api_token: str = "sandbox-signrequest-token", token_name: str = "Token",  # noqa: S107
                 team_subdomain: str = "sandbox", team_name: str = "Sandbox team",
                 from_email: str = "sender@sandbox.example",
                 callback_retry_delays: Collection[float] = (0.2, 0.2, 0.4, 0.6, 1.0),
                 public_url: str | None = None, *, clock: Callable[[], float] = time.time,
                 team_members: Collection[str] = (), callback_workers: int = 1):
        self.api_token = api_token
        self.token_name = token_name
        self.team_subdomain = team_subdomain
        self.team_name = team_name
        self.from_email = from_email
        self.team_members = {m.lower() for m in (from_email, *team_members)}
        self.store = Store(clock)
        self.faults = Faults("signrequest")
        self.sender = CallbackSender(tuple(callback_retry_delays)[:MAX_CALLBACK_ATTEMPTS - 1], faults=self.faults,
                                     workers=callback_workers)
        self.public_url = public_url or "http://127.0.0.1"
        self._attempted_at: dict[str, float] = {}  # event uuid -> when its callback was last posted
        from sandbox.signrequest_sim.api import build_app

        self.app = FaultInjector(build_app(self), self.faults)

    @property
    def clock(self) -> Callable[[], float]:
        return self.store.clock

    @clock.setter
    def clock(self, clock: Callable[[], float]) -> None:
        self.store.clock = clock

    @property
    def serializer(self) -> Serializer:
        return Serializer(self.store, self.public_url, self.team_name, self.team_subdomain)

    @property
    def create_calls(self) -> int:
        return self.store.create_calls

    # --- reading -----------------------------------------------------------------------------

    def documents(self) -> list[dict]:
        self.run_due()
        with self.store.lock:
            return [self.serializer.document(d) for d in self.store.documents.values()]

    def document(self, document_uuid: str) -> dict:
        self.run_due()
        with self.store.lock:
            return self.serializer.document(self.store.documents[document_uuid])

    def find_by_external_id(self, external_id: str) -> list[dict]:
        return [d for d in self.documents() if d["external_id"] == external_id]

    def awaiting_signature(self) -> list[tuple[str, str]]:
        """(document uuid, email) of every signer whose turn it is, without serialising documents."""
        with self.store.lock:
            return [(d.uuid, s.email) for d in self.store.documents.values() if d.status in AWAITING_SIGNERS
                    for s in d.required() if d.has_turn(s)]

    def events_json(self, events: list[Event]) -> list[dict]:
        last_status: dict[str, int | None] = {}
        for delivery in self.sender.deliveries:
            last_status[delivery["event_uuid"]] = delivery["status_code"]
        with self.store.lock:
            return [self.serializer.event(e, last_status.get(e.uuid), self._attempted_at.get(e.uuid)
                                          if last_status.get(e.uuid) == 200 else None) for e in events]

    # --- creating (the API's POST bodies; Invalid carries the 400 answer) ----------------------

    def create_document(self, data: dict) -> dict:
        """POST /documents/: the 201 body, taken while the document is still converting."""
        errors: dict = {}
        cleaned = check_document(data, errors)
        if errors:
            raise Invalid(errors)
        with self.store.lock:
            document = self._new_document(cleaned)
            answer = self.serializer.document(document)
            self._convert(document)
            return answer

    def create_signrequest(self, data: dict) -> dict:
        """POST /signrequests/ for a document created before."""
        errors: dict = {}
        cleaned = check_signrequest(data, errors)
        with self.store.lock:
            document = self._linked_document(data, errors)
            self._check_sender(cleaned, errors)
            if errors:
                raise Invalid(errors)
            assert document is not None
            self._send(document, cleaned)
            return self.serializer.signrequest(document)

    def quick_create(self, data: dict) -> dict:
        """POST /signrequest-quick-create/: document and signrequest in one call, all checked at once."""
        errors: dict = {}
        document_fields = check_document(data, errors)
        signrequest_fields = check_signrequest(data, errors)
        self._check_sender(signrequest_fields, errors)
        if errors:
            raise Invalid(errors)
        with self.store.lock:
            document = self._new_document(document_fields)
            self._convert(document)
            self._send(document, signrequest_fields)
            return self.serializer.quick_create(document)

    def _linked_document(self, data: dict, errors: dict) -> Document | None:
        if "document" not in data:
            errors["document"] = ["This field is required."]
            return None
        try:
            document = self.store.documents.get(document_uuid_from_link(data["document"]))
        except FieldError as problem:
            errors["document"] = problem.messages
            return None
        if document is None:
            errors["document"] = ["Invalid hyperlink - Object does not exist."]
        elif document.signrequest is not None:
            errors["document"] = ["This document already has a signrequest."]
        return document

    def _check_sender(self, cleaned: dict, errors: dict) -> None:
        sender = cleaned.get("from_email")
        if sender and sender.lower() not in self.team_members:
            errors["from_email"] = [f"{sender} is not a member of team {self.team_name}; "
                                    "only team members can send signrequests."]

    def _new_document(self, cleaned: dict) -> Document:
        document = new_document(cleaned, self.clock())
        self.store.add(document)
        self.store.create_calls += 1
        return document

    def _convert(self, document: Document) -> None:
        # The name's extension tells SignRequest the file type; the sandbox converts only PDFs.
        if "." in document.filename and convertible(document.content):
            document.status, document.converted = "ne", True
            self._emit(document, "converted")
        else:
            document.status = "ec"
            self._emit(document, "convert_error")

    def _send(self, document: Document, cleaned: dict) -> None:
        now = self.clock()
        who = cleaned.get("who") or "o"
        sender_email = cleaned.get("from_email") or self.from_email
        document.signers = signers_for(cleaned["signers"], sender_email, who)
        fields = {k: v for k, v in cleaned.items() if k != "signers" and v is not None}
        self.store.attach(document, SignRequest(str(uuid.uuid4()), {**fields, "from_email": sender_email}))
        if document.status == "ec":
            document.status = "es"
            self._emit(document, "sending_error")
        elif not cleaned.get("is_being_prepared"):
            document.status = "se"
            for signer in document.required():
                signer.emailed = document.has_turn(signer) and not signer.embedded
            document.log.append((now, f"Sent by {sender_email} to "
                                      f"{', '.join(s.email for s in document.required())}"))
            self._emit(document, "sent")

    # --- sender actions and the clock ----------------------------------------------------------

    def expire(self, document_uuid: str) -> None:
        with self.store.lock:
            document = self.store.documents[document_uuid]
            if document.status in FINISHED:
                raise ActionRefused(f"the document is already {FINISHED_WORDS[document.status]}")
            document.log.append((self.clock(), "Document expired"))
            self._finish(document, "xp")
            self._emit(document, "expired")

    def cancel(self, signrequest_uuid: str) -> None:
        """Raises KeyError for an unknown signrequest, ActionRefused once it is finished."""
        with self.store.lock:
            document = self._by_signrequest(signrequest_uuid)
            if document.status in FINISHED:
                raise ActionRefused(f"This SignRequest cannot be cancelled: it is already "
                                    f"{FINISHED_WORDS[document.status]}.")
            document.log.append((self.clock(), "SignRequest cancelled by the sender"))
            self._finish(document, "ca")
            self._emit(document, "cancelled")

    def resend(self, signrequest_uuid: str) -> None:
        """A reminder to every signer who got the invite and has not signed yet."""
        with self.store.lock:
            document = self._by_signrequest(signrequest_uuid)
            if document.status in FINISHED:
                raise ActionRefused(f"This SignRequest is already {FINISHED_WORDS[document.status]}; "
                                    "there is no one to remind.")
            if document.status not in AWAITING_SIGNERS:
                raise ActionRefused("This SignRequest has not been sent yet.")
            document.reminders += 1
            reminded = [s.email for s in document.required() if s.emailed and not s.signed]
            document.log.append((self.clock(), f"Reminder sent to {', '.join(reminded)}"))

    def delete(self, document_uuid: str) -> None:
        with self.store.lock:
            if document_uuid not in self.store.documents:
                raise KeyError(document_uuid)
            self.store.remove(document_uuid)

    def _by_signrequest(self, signrequest_uuid: str) -> Document:
        document = self.store.by_signrequest(signrequest_uuid)
        if document is None:
            raise KeyError(signrequest_uuid)
        return document

    def _finish(self, document: Document, status: str) -> None:
        document.status = status
        document.finished_on = self.clock()
        self.store.schedule_deletion(document)

    def run_due(self) -> None:
        """Expire (auto_expire_days) and delete (auto_delete_days) what the clock says is due."""
        for document_uuid, what in self.store.due():
            with self.store.lock:
                document = self.store.documents.get(document_uuid)
                if document is None:
                    continue
                if what == "delete":
                    self.store.remove(document_uuid)
                elif document.status not in FINISHED:
                    self.expire(document_uuid)

    # --- events ------------------------------------------------------------------------------

    def _emit(self, document: Document, event_type: str, signer: Signer | None = None) -> None:
        event = Event(str(uuid.uuid4()), event_type, self.clock(), document, signer)
        self.store.events.append(event)
        if not document.callback_url:
            return

        def body() -> dict:
            with self.store.lock:  # built per attempt, so every delivery carries fresh file links
                self._attempted_at[event.uuid] = self.clock()
                digest = event_hash(self.api_token, str(int(event.at)), event_type)
                return self.serializer.callback(event, digest, self.token_name)

        self.sender.send(document.callback_url, body, event_type, event.uuid)
