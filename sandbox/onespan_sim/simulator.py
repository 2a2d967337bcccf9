"""The simulated OneSpan Sign account: package lifecycle, the account's callback configuration and delivery.

Signer actions (SMS code, view, sign, decline) live in `signing.py`; the HTTP surface in `api.py`.
"""

from __future__ import annotations

import copy
import itertools
import json
import secrets
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sandbox.callbacks import CallbackSender, SendsCallbacks
from sandbox.faults import FaultInjector, Faults
from sandbox.onespan_sim.api import build_app
from sandbox.onespan_sim.documents import CONSENT_NAME, evidence_pdf, freeze_signed
from sandbox.onespan_sim.model import (
    CONSENT_ID,
    EVENT_CLASS,
    EVENTS,
    OWNER_ID,
    STATUSES,
    OneSpanError,
    Package,
    invalid,
    iso,
    new_package_id,
    new_short_id,
    not_found,
    parse_date,
)
from sandbox.onespan_sim.signing import SignerActions
from sandbox.onespan_sim.validation import validate_callback, validate_create, validate_reminders
from sandbox.onespan_sim.wire import JSON_TYPE

_EDITABLE_IN_DRAFT = {"name", "description", "emailMessage", "due", "data", "settings", "autocomplete",
                      "language"}


def _error_body(status: int) -> tuple[bytes, str]:
    """An injected 5xx or 429 in OneSpan's error shape."""
    key, name = ("error.internal.unavailable", "Service Unavailable") if status >= 500 else \
        ("error.tooManyRequests", "Too Many Requests")
    return json.dumps(OneSpanError(status, key, f"{name} (injected)", name).body()).encode(), JSON_TYPE


class PackageTable(dict[str, Package]):
    """Packages by id. Calling it lists them as Package JSON: the `sim.packages()` test helper."""

    def __init__(self, lock: threading.RLock):
        super().__init__()
        self._lock = lock

    def __call__(self) -> list[dict]:
        with self._lock:
            return [copy.deepcopy(p.public_view()) for p in self.values()]


class OneSpanSimulator(SignerActions, SendsCallbacks):
    def __init__(self, api_key: str = "sandbox-onespan-key",
                 callback_key: str | None = "sandbox-callback-key",
                 sender_email: str = "sender@sandbox.example",
                 callback_retry_delays: tuple[float, ...] = (0.2, 0.4, 0.8), package_quota: int | None = None,
                 clock: Callable[[], float] = time.time, callback_events: frozenset[str] = EVENTS):
        self.api_key = api_key
        self.callback_events = callback_events  # the event names POST /api/callback accepts
        self.sender_email = sender_email
        self.package_quota = package_quota
        self.clock = clock
        # One callback configuration per account; until POST /api/callback sets a URL nothing is sent.
        self.callback: dict = {"url": None, "key": callback_key, "events": []}
        self.lock = threading.RLock()
        self.packages = PackageTable(self.lock)
        # Real OneSpan does not retry a failed callback (it e-mails the sender); pass () for that behaviour.
        self.faults = Faults("onespan")
        self.sender = CallbackSender(callback_retry_delays, faults=self.faults)
        self.create_calls = 0
        self.outbox: list[dict] = []  # the invitations and reminders the sandbox "e-mailed"
        self._callback_bodies: dict[str, dict] = {}
        self._sequence = itertools.count(1)
        self.public_url = "http://127.0.0.1"
        self.app = FaultInjector(build_app(self), self.faults, _error_body)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    # --- reading ---------------------------------------------------------------------------

    def get(self, package_id: str) -> Package:
        """The package, with an expiry that fell due applied first. Raises the API's 404."""
        with self.lock:
            package = self.packages.get(package_id)
            if package is None:
                raise not_found("package", "error.notFound.packageNotFound")
            due = parse_date(package.payload.get("due"))
            if package.open_for_signing and due is not None and due <= self.now():
                self._expire(package)
            return package

    def package(self, package_id: str) -> dict:
        with self.lock:
            return copy.deepcopy(self.get(package_id).public_view())

    def signing_status(self, package_id: str, signer_id: str | None) -> str:
        with self.lock:
            package = self.get(package_id)
            if package.status == "SENT" and signer_id:
                role = next((r for r in package.signer_roles()
                             if signer_id in (r["id"], r["signers"][0]["id"])), None)
                return "SIGNING_COMPLETED" if role and package.role_signed(role["id"]) else "SIGNING_PENDING"
            if package.status == "SENT":
                return "SIGNING_COMPLETED" if package.all_signed() else "SIGNING_PENDING"
            return package.status

    def failed_callbacks(self) -> list[dict]:
        """Bodies of callbacks whose every attempt failed: what OneSpan's failure e-mail would carry."""
        last: dict[str, int | None] = {}
        for delivery in self.sender.deliveries:
            last[delivery["event_uuid"]] = delivery["status_code"]
        return [self._callback_bodies[uuid] for uuid, status in last.items()
                if (status is None or not 200 <= status < 300) and uuid in self._callback_bodies]

    # --- account configuration -------------------------------------------------------------

    def register_callback(self, data: dict) -> dict:
        config = validate_callback(data, self.callback_events)
        with self.lock:
            self.callback = config
            return dict(config)

    # --- package lifecycle -------------------------------------------------------------------

    def create(self, payload: object, files: list[tuple[str, bytes]]) -> Package:
        with self.lock:
            self.create_calls += 1
            if self.package_quota is not None and len(self.packages) >= self.package_quota:
                # Invented key (reference §8: the real status and key for an exhausted quota are unknown).
                raise OneSpanError(403, "error.forbidden.quotaExceeded",
                                   "Simulated: the account's transaction quota is used up.", "Forbidden")
        uploads = validate_create(payload, files, self.now())
        assert isinstance(payload, dict)  # validate_create refuses anything else
        with self.lock:
            now = self.now()
            package = Package(new_package_id(), {}, {}, now)
            documents = []
            for position, upload in enumerate(uploads, start=1):
                document = {k: v for k, v in upload.document.items() if k != "base64Content"}
                doc_id = document.get("id") or secrets.token_hex(24)
                package.files[doc_id] = upload.content
                approvals = [{**a, "id": a.get("id") or new_short_id(), "signed": None, "accepted": None}
                             for a in document.get("approvals") or []]
                documents.append({**document, "id": doc_id, "index": document.get("index", position),
                                  "pages": len(upload.pages), "approvals": approvals})
            roles = [self._owner_role()] + [self._role(r) for r in payload.get("roles", [])]
            package.payload = {
                **payload, "id": package.id, "type": "PACKAGE", "status": "DRAFT", "trashed": False,
                "autocomplete": payload.get("autocomplete", True), "roles": roles, "documents": documents,
                "messages": [], "created": iso(now), "updated": iso(now), "completed": None,
                "data": payload.get("data") or {},
                "sender": {"email": self.sender_email, "firstName": "Sandbox", "lastName": "Sender"}}
            consent = {"id": CONSENT_ID, "name": CONSENT_NAME, "index": 0, "pages": 1, "approvals": [
                {"id": new_short_id(), "role": r["id"], "fields": [], "signed": None, "accepted": None}
                for r in package.signer_roles()]}
            package.payload["documents"].insert(0, consent)
            for role in package.signer_roles():
                package.signing_keys[secrets.token_urlsafe(16)] = role["id"]
                if role["signers"][0]["auth"].get("scheme") == "SMS":
                    package.sms_codes[role["id"]] = f"{secrets.randbelow(10**6):06d}"
            self.packages[package.id] = package
            package.audit.append((now, "Package created"))
            self._emit(package, "PACKAGE_CREATE", OWNER_ID)
            if payload.get("status") == "SENT":
                self._activate(package)
            return package

    def _owner_role(self) -> dict:
        return {"id": OWNER_ID, "name": "Owner", "type": "SENDER", "index": 0, "locked": False, "signers": [
            {"id": OWNER_ID, "email": self.sender_email, "firstName": "Sandbox", "lastName": "Sender",
             "auth": {"scheme": "NONE", "challenges": []}}]}

    @staticmethod
    def _role(role: dict) -> dict:
        signers = [{**s, "id": s.get("id") or role["id"],
                    "auth": s.get("auth") or {"scheme": "NONE", "challenges": []}}
                   for s in role.get("signers", [])]
        return {**role, "name": role.get("name") or role["id"], "type": role.get("type", "SIGNER"),
                "index": role.get("index", 0), "locked": False, "signers": signers}

    def update(self, package_id: str, changes: dict) -> None:
        with self.lock:
            package = self.get(package_id)
            if changes.get("id", package_id) != package_id:
                raise invalid("The id in the body does not match the package.", "error.validation.package.id")
            edits = {k: changes[k] for k in _EDITABLE_IN_DRAFT & changes.keys()}
            if edits and package.status != "DRAFT":
                raise invalid("Only a DRAFT package can be edited; return it to DRAFT first.",
                              "error.validation.package.notEditable")
            package.payload.update(edits)
            if "status" in changes:
                self._change_status(package, changes["status"], changes.get("messages"))
            if "trashed" in changes and bool(changes["trashed"]) != package.trashed:
                package.payload["trashed"] = bool(changes["trashed"])
                self._emit(package, "PACKAGE_TRASH" if package.trashed else "PACKAGE_RESTORE", OWNER_ID)
            package.payload["updated"] = iso(self.now())

    def _change_status(self, package: Package, status: object, messages: object) -> None:
        previous = package.status
        if status not in STATUSES:
            raise invalid(f"Unknown package status {status!r}.", "error.validation.package.status")
        if status == previous and status in ("DRAFT", "SENT"):
            return
        if (previous, status) == ("DRAFT", "SENT"):
            self._activate(package)
        elif (previous, status) == ("SENT", "DRAFT"):
            package.payload["status"] = "DRAFT"
            package.audit.append((self.now(), "Package returned to draft"))
            self._emit(package, "PACKAGE_DEACTIVATE", OWNER_ID)
        elif (previous, status) == ("SENT", "COMPLETED") and package.all_signed():
            self._complete(package, OWNER_ID)
        elif previous in ("COMPLETED", "DECLINED", "EXPIRED", "OPTED_OUT") and status == "ARCHIVED":
            package.payload["status"] = "ARCHIVED"
            self._emit(package, "PACKAGE_ARCHIVE", OWNER_ID)
        elif previous == "SENT" and status in ("DECLINED", "OPTED_OUT"):
            self._decline_for_signer(package, str(status), messages)
        else:
            raise invalid(f"A {previous} package cannot become {status}.",
                          "error.validation.package.invalidStatusTransition")

    def _activate(self, package: Package) -> None:
        if not package.signer_roles() or not package.documents():
            raise invalid("A package needs at least one signer and one document to be sent.",
                          "error.validation.package.cannotSend")
        now = self.now()
        package.payload["status"] = "SENT"
        if package.reminders is not None:
            start, every = package.reminders["startInDaysDelay"], package.reminders["intervalInDays"]
            package.reminders["reminders"] = [
                {"date": iso(now + timedelta(days=start + n * every)), "sentDate": None}
                for n in range(package.reminders["repetitionsCount"])]
        package.audit.append((now, "Package sent"))
        self._emit(package, "PACKAGE_ACTIVATE", OWNER_ID)
        self._invite_next(package)

    def _complete(self, package: Package, session_user: str) -> None:
        now = self.now()
        package.payload["status"] = "COMPLETED"
        package.payload["completed"] = iso(now)
        freeze_signed(package)
        package.audit.append((now, "Package completed"))
        package.evidence = evidence_pdf(package)
        self._emit(package, "PACKAGE_COMPLETE", session_user)

    def _expire(self, package: Package) -> None:
        package.payload["status"] = "EXPIRED"
        package.audit.append((self.now(), "Package expired"))
        self._emit(package, "PACKAGE_EXPIRE", OWNER_ID)

    def delete(self, package_id: str) -> None:
        with self.lock:
            package = self.get(package_id)
            self._emit(package, "PACKAGE_DELETE", OWNER_ID)
            del self.packages[package_id]

    def expire(self, package_id: str) -> None:
        """Test helper: let the due date pass now."""
        with self.lock:
            package = self.get(package_id)
            if not package.open_for_signing:
                raise self.refused(f"the package is {package.status}")
            package.payload["due"] = iso(self.now() - timedelta(seconds=1))
            self._expire(package)

    # --- reminders and notifications ---------------------------------------------------------

    def reminder_schedule(self, package_id: str) -> dict | None:
        with self.lock:
            schedule = self.get(package_id).reminders
            return copy.deepcopy(schedule) if schedule else None

    def set_reminders(self, package_id: str, data: dict, *, replace: bool) -> dict:
        with self.lock:
            package = self.get(package_id)
            if package.status != "DRAFT":
                raise invalid("A reminder schedule can only be set before the package is sent.",
                              "error.validation.reminders.packageSent")
            if replace and package.reminders is None:
                raise not_found("reminder schedule", "error.notFound.reminderScheduleNotFound")
            if not replace and package.reminders is not None:
                raise OneSpanError(409, "error.conflict.reminderScheduleExists", "The package already has a "
                                   "reminder schedule; update it with PUT.", "Conflict")
            package.reminders = {**validate_reminders(package_id, data), "reminders": []}
            return copy.deepcopy(package.reminders)

    def clear_reminders(self, package_id: str) -> None:
        with self.lock:
            self.get(package_id).reminders = None

    def notify(self, package_id: str, email: str, message: str | None) -> None:
        with self.lock:
            package = self.get(package_id)
            if not package.open_for_signing:
                raise invalid("Notifications can only be sent for a SENT package.",
                              "error.validation.notify.notSent")
            if package.role_for_email(email) is None:
                raise invalid("No signer of this package has that email.", "error.validation.notify.signer")
            package.notifications += 1
            self.outbox.append({"package_id": package_id, "to": email, "kind": "reminder",
                                "message": message})

    def _invite_next(self, package: Package) -> None:
        """E-mail the roles whose turn has come and who were not invited yet."""
        invited = {m["to"] for m in self.outbox
                   if m["package_id"] == package.id and m["kind"] == "invitation"}
        for role in package.signer_roles():
            signer = role["signers"][0]
            if signer["email"] in invited or package.role_signed(role["id"]) or package.waiting_for(role):
                continue
            self.outbox.append({"package_id": package.id, "to": signer["email"], "kind": "invitation",
                                "message": package.payload.get("emailMessage")})

    # --- callbacks -------------------------------------------------------------------------

    def _emit(self, package: Package, name: str, session_user: str, *, message: str | None = None,
              document_id: str | None = None) -> None:
        url, key, wanted = self.callback["url"], self.callback.get("key"), self.callback.get("events") or []
        if not url or name not in wanted:
            return  # events are off unless the account's callback configuration enables them
        body = {"@class": EVENT_CLASS, "name": name, "sessionUser": session_user, "packageId": package.id,
                "message": message, "documentId": document_id, "createdDate": iso(self.now())}
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if key:
            headers["Authorization"] = f"Basic {key}"
        uuid = f"{package.id}:{name}:{next(self._sequence)}"
        self._callback_bodies[uuid] = body
        self.sender.send(url, lambda: body, name, uuid, headers)
