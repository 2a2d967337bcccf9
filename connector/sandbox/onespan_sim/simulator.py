"""The simulated OneSpan Sign account: packages, signer actions, and callbacks (no retries)."""

from __future__ import annotations

import secrets
import threading
from datetime import UTC, datetime, timedelta

from connector.sandbox.callbacks import CallbackSender, SendsCallbacks
from connector.sandbox.onespan_sim.model import OneSpanError, Package, invalid, new_package_id, validate_create
from connector.sandbox.pdfgen import append_pages, text_pdf

EVENT_CLASS = "com.silanis.esl.packages.event.ESLProcessEvent"
_TRANSITIONS = {("DRAFT", "SENT"): "PACKAGE_ACTIVATE", ("SENT", "DRAFT"): "PACKAGE_DEACTIVATE",
                ("COMPLETED", "ARCHIVED"): "PACKAGE_ARCHIVE", ("SENT", "SENT"): None, ("DRAFT", "DRAFT"): None}
OWNER_ID = "sender-owner-1"


class ActionRefused(ValueError):
    pass


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


class OneSpanSimulator(SendsCallbacks):
    def __init__(self, api_key: str = "sandbox-onespan-key",
                 callback_key: str | None = None, sender_email: str = "sender@sandbox.example"):
        self.api_key = api_key
        self.sender_email = sender_email
        self.callback: dict = {"url": None, "key": callback_key, "events": []}
        self.packages: dict[str, Package] = {}
        self.lock = threading.RLock()
        self.sender = CallbackSender(())  # OneSpan does not retry a failed callback
        self.create_calls = 0
        self.public_url = "http://127.0.0.1"
        from connector.sandbox.onespan_sim.api import build_app

        self.app = build_app(self)

    # --- test helpers ----------------------------------------------------------------------

    def package(self, package_id: str) -> dict:
        with self.lock:
            return self._get(package_id).payload

    def _get(self, package_id: str) -> Package:
        package = self.packages.get(package_id)
        if package is None:
            raise OneSpanError(404, "error.notFound.packageNotFound", "The package was not found.", "Not Found")
        return package

    # --- package lifecycle -------------------------------------------------------------------

    def create(self, payload: dict, files: dict[str, bytes]) -> Package:
        validate_create(payload, list(files))
        with self.lock:
            package = Package(new_package_id(), dict(payload), {}, _now())
            documents = [{"id": "default-consent", "name": "Electronic Disclosures and Signatures Consent",
                          "index": 0, "approvals": []}]
            for index, document in enumerate(payload.get("documents", []), start=1):
                doc_id = document.get("id") or secrets.token_hex(24)
                package.files[doc_id] = files[document["name"]]
                documents.append({**document, "id": doc_id, "index": document.get("index", index),
                                  "approvals": [{**a, "id": a.get("id") or secrets.token_urlsafe(9), "signed": None,
                                                 "accepted": None} for a in document.get("approvals", [])]})
            owner = {"id": OWNER_ID, "name": "Owner", "type": "SENDER", "index": 0, "signers": [
                {"id": OWNER_ID, "email": self.sender_email, "firstName": "Sandbox", "lastName": "Sender"}]}
            package.payload.update(id=package.id, documents=documents, roles=[owner, *payload.get("roles", [])],
                                   status=payload.get("status", "DRAFT"), trashed=False, messages=[],
                                   created=_iso(package.created), updated=_iso(package.created))
            for role in package.signer_roles():
                package.signing_keys[secrets.token_urlsafe(16)] = role["id"]
                auth = role["signers"][0].get("auth") or {}
                if auth.get("scheme") == "SMS":
                    package.sms_codes[role["id"]] = f"{secrets.randbelow(10**6):06d}"
            self.packages[package.id] = package
            self.create_calls += 1
            package.audit.append((_now(), "Package created"))
            if package.status == "SENT":
                self._emit(package, "PACKAGE_ACTIVATE", OWNER_ID)
            return package

    def update(self, package_id: str, changes: dict) -> None:
        with self.lock:
            package = self._get(package_id)
            if "trashed" in changes:
                package.payload["trashed"] = bool(changes["trashed"])
                self._emit(package, "PACKAGE_TRASH" if changes["trashed"] else "PACKAGE_RESTORE", OWNER_ID)
            status = changes.get("status")
            if status is None:
                return
            previous = package.status
            if (previous, status) not in _TRANSITIONS:
                raise invalid(f"A {previous} package cannot become {status}.",
                              "error.validation.package.invalidStatusTransition")
            package.payload["status"] = status
            package.payload["updated"] = _iso(_now())
            event = _TRANSITIONS[(previous, status)]
            if event == "PACKAGE_ACTIVATE":
                package.audit.append((_now(), "Package sent to " + ", ".join(
                    r["signers"][0]["email"] for r in package.signer_roles())))
            if event:
                self._emit(package, event, OWNER_ID)

    def set_reminders(self, package_id: str, schedule: dict) -> dict:
        with self.lock:
            package = self._get(package_id)
            if package.status != "DRAFT":
                raise invalid("A reminder schedule can only be set before the package is sent.",
                              "error.validation.reminders.packageSent")
            for key in ("startInDaysDelay", "intervalInDays", "repetitionsCount"):
                value = schedule.get(key)
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    raise invalid(f"{key} must be a whole number.", "error.validation.reminders.invalid")
            package.payload["_reminders"] = {"packageId": package_id, **{k: schedule[k] for k in (
                "startInDaysDelay", "intervalInDays", "repetitionsCount")}, "reminders": []}
            return package.payload["_reminders"]

    # --- signer actions ----------------------------------------------------------------------

    def _signer_role(self, package_id: str, email: str) -> tuple[Package, dict]:
        package = self.packages.get(package_id)
        if package is None:
            raise ActionRefused(f"no package {package_id}")
        role = package.role_for_email(email)
        if role is None:
            raise ActionRefused(f"{email} is not a signer of this package")
        if package.status != "SENT" or package.payload.get("trashed"):
            raise ActionRefused(f"the package is {package.status}; nothing to sign")
        return package, role

    def sms_code(self, package_id: str, signer_email: str) -> str:
        with self.lock:
            package, role = self._signer_role(package_id, signer_email)
            return package.sms_codes[role["id"]]

    def enter_sms_code(self, package_id: str, signer_email: str, code: str) -> bool:
        with self.lock:
            package, role = self._signer_role(package_id, signer_email)
            if package.sms_codes.get(role["id"]) == code.strip():
                package.sms_verified.add(role["id"])
                package.audit.append((_now(), f"SMS authentication passed for {signer_email}"))
                return True
            package.audit.append((_now(), f"SMS authentication failed for {signer_email}"))
            return False

    def view(self, package_id: str, signer_email: str) -> None:
        with self.lock:
            package, role = self._signer_role(package_id, signer_email)
            for approval in package.approvals(role["id"]):
                approval["accepted"] = approval.get("accepted") or _iso(_now())
            package.audit.append((_now(), f"Viewed by {signer_email}"))
            self._emit(package, "DOCUMENT_VIEWED", role["id"])

    def sign(self, package_id: str, signer_email: str) -> None:
        with self.lock:
            package, role = self._signer_role(package_id, signer_email)
            if role["id"] in package.sms_codes and role["id"] not in package.sms_verified:
                raise ActionRefused(f"{signer_email} must enter the SMS code first")
            earlier = next((r for r in package.signer_roles() if r.get("index", 0) < role.get("index", 0)
                            and not package.role_signed(r["id"])), None)
            if earlier:
                raise ActionRefused(f"{signer_email} must wait for {earlier['signers'][0]['email']} to sign first")
            if package.role_signed(role["id"]):
                raise ActionRefused(f"{signer_email} has already signed")
            now = _iso(_now())
            for document in package.payload["documents"]:
                mine = [a for a in document["approvals"] if a["role"] == role["id"]]
                for approval in mine:
                    approval["accepted"], approval["signed"] = approval.get("accepted") or now, now
                if mine:
                    self._emit(package, "DOCUMENT_SIGNED", role["id"], document_id=document["id"])
            package.audit.append((_now(), f"Signed by {signer_email}"))
            self._emit(package, "SIGNER_COMPLETE", role["id"])
            if all(package.role_signed(r["id"]) for r in package.signer_roles()):
                self._complete(package, role["id"])

    def _complete(self, package: Package, last_role: str) -> None:
        now = _now()
        for doc_id, original in package.files.items():
            lines = [f"Signed by {r['signers'][0]['firstName']} {r['signers'][0]['lastName']} "
                     f"<{r['signers'][0]['email']}>" for r in package.signer_roles()]
            package.signed_pdfs[doc_id] = append_pages(original, [["OneSpan Sign sandbox - signatures", *lines]])
        package.audit.append((now, "Package completed"))
        events = [f"{at:%Y-%m-%d %H:%M:%S} UTC  {what}  (IP 127.0.0.1)" for at, what in package.audit]
        package.evidence = text_pdf([["Evidence Summary (OneSpan Sign sandbox)", f"Transaction {package.id}",
                                      f"Name: {package.payload['name']}", "", *events]], title="Evidence Summary")
        package.payload["status"] = "COMPLETED"
        package.payload["completed"] = _iso(now)
        self._emit(package, "PACKAGE_COMPLETE", last_role)

    def decline(self, package_id: str, signer_email: str, reason: str) -> None:
        with self.lock:
            package, role = self._signer_role(package_id, signer_email)
            signer = role["signers"][0]
            package.payload["status"] = "DECLINED"
            package.payload["messages"] = [{"content": reason, "status": "NEW", "created": _iso(_now()),
                                            "from": {"id": signer["id"], "email": signer["email"],
                                                     "firstName": signer["firstName"],
                                                     "lastName": signer["lastName"]}, "to": [], "documents": []}]
            package.audit.append((_now(), f"Declined by {signer_email}: {reason}"))
            self._emit(package, "PACKAGE_DECLINE", role["id"], message=reason)

    def expire(self, package_id: str) -> None:
        with self.lock:
            package = self._get(package_id)
            if package.status != "SENT":
                raise ActionRefused(f"the package is {package.status}")
            package.payload["status"] = "EXPIRED"
            package.payload["due"] = _iso(_now() - timedelta(seconds=1))
            self._emit(package, "PACKAGE_EXPIRE", OWNER_ID)

    def signing_url(self, package_id: str, signer_email: str) -> str:
        with self.lock:
            package = self._get(package_id)
            role = package.role_for_email(signer_email)
            key = next(k for k, r in package.signing_keys.items() if r == role["id"])
            return f"{self.public_url}/sandbox/sign/{key}"

    # --- callbacks -------------------------------------------------------------------------

    def _emit(self, package: Package, name: str, session_user: str, *, message: str | None = None,
              document_id: str | None = None) -> None:
        url, key, wanted = self.callback["url"], self.callback.get("key"), self.callback.get("events") or []
        if not url or name not in wanted:
            return
        body = {"@class": EVENT_CLASS, "name": name, "sessionUser": session_user, "packageId": package.id,
                "message": message, "documentId": document_id, "createdDate": _iso(_now())}
        headers = {"Authorization": f"Basic {key}"} if key else {}
        self.sender.send(url, lambda: body, name, f"{package.id}:{name}:{body['createdDate']}", headers)
