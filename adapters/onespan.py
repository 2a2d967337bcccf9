"""OneSpan Sign behind the SigningProvider port.

A request is a package: created as a draft (multipart: JSON `payload` + one `file` part per
document), given its reminder schedule (only drafts accept one), then sent. Our job id lives in
the package's `data.externalId`; after a crash the newest packages are scanned for it, and a
package left in DRAFT is sent then. Callbacks carry `Authorization: Basic <callback key>` and no
signature over the body, so the engine confirms every event through `get_status`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

import requests
import urllib3

from adapters.base import (
    ProviderCapabilities,
    ProviderValidationError,
    RequestRef,
    RequestStatus,
    SignedFile,
    SignerAuth,
    SignerStatus,
    SigningProvider,
    SigningRequestSpec,
    SigningState,
    WebhookEvent,
    WebhookRejected,
)
from adapters.http import ProviderHttp
from adapters.onespan_layout import signature_boxes

CONSENT = "default-consent"
_HINTS = {"PACKAGE_COMPLETE": SigningState.COMPLETED, "PACKAGE_DECLINE": SigningState.DECLINED,
          "PACKAGE_OPT_OUT": SigningState.DECLINED, "PACKAGE_EXPIRE": SigningState.EXPIRED,
          "PACKAGE_TRASH": SigningState.CANCELLED, "PACKAGE_DELETE": SigningState.CANCELLED,
          "SIGNER_COMPLETE": SigningState.PARTIALLY_SIGNED, "DOCUMENT_SIGNED": SigningState.PARTIALLY_SIGNED,
          "DOCUMENT_VIEWED": SigningState.VIEWED}
_FORBIDDEN_NAME = re.compile(r'[*/\\:<>|?"]')
REMINDERS = {"startInDaysDelay": 2, "intervalInDays": 3, "repetitionsCount": 4}
_JSON = "application/json; esl-api-version=11.68.0"


def _describe_error(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason
    if isinstance(body, dict):
        key, message = body.get("messageKey", ""), body.get("message") or body.get("technical") or ""
        return f"{message} ({key})" if key else str(message)
    return str(body)[:200]


def document_name(title: str) -> str:
    name = _FORBIDDEN_NAME.sub("-", title).replace("esigned", "e-signed").strip() or "Document"
    return name[:256]


class OneSpanProvider(SigningProvider):
    name = "onespan"
    display_name = "OneSpan Sign"
    capabilities = ProviderCapabilities(sms_authentication=True, multiple_documents=True, signing_order=True)

    def __init__(self, api_key: str, base_url: str = "https://sandbox.esignlive.com", callback_key: str = "",
                 download_hosts: list[str] | None = None, require_https_downloads: bool = True,
                 session: requests.Session | None = None, timeout: float = 30.0,
                 clock: Callable[[], float] = time.time, replay_window_seconds: int = 900,
                 retry_wait_initial: float = 0.5, search_depth: int = 100):
        self._callback_key = callback_key
        self.clock = clock
        self.replay_window = replay_window_seconds
        self.search_depth = search_depth
        self._callback_registered = False
        self.http = ProviderHttp(provider=self.display_name, base_url=f"{base_url.rstrip('/')}/api",
                                 auth_header=f"Basic {api_key}", session=session, timeout=timeout,
                                 describe_error=_describe_error, wait_initial=retry_wait_initial)

    def __repr__(self) -> str:
        return f"OneSpanProvider(base_url={self.http.base_url!r})"

    # --- creating ----------------------------------------------------------------------------

    def _ensure_callback(self, url: str) -> None:
        """OneSpan keeps one callback configuration per account; make it point at us."""
        if self._callback_registered:
            return
        events = ["PACKAGE_COMPLETE", "PACKAGE_DECLINE", "PACKAGE_OPT_OUT", "PACKAGE_EXPIRE", "PACKAGE_TRASH",
                  "PACKAGE_DELETE", "SIGNER_COMPLETE", "DOCUMENT_SIGNED", "DOCUMENT_VIEWED"]
        self.http.request("POST", "/callback", json={"url": url, "key": self._callback_key, "events": events},
                          headers={"Accept": _JSON}, idempotent=True)
        self._callback_registered = True

    def _payload(self, spec: SigningRequestSpec) -> dict:
        roles = []
        for signer in spec.signers:
            role_id = f"signer{signer.order}"
            auth = {"scheme": "NONE", "challenges": []}
            if signer.auth == SignerAuth.SMS:
                auth = {"scheme": "SMS", "challenges": [{"question": signer.mobile_phone}]}
            roles.append({"id": role_id, "name": role_id, "type": "SIGNER", "index": signer.order, "signers": [
                {"id": role_id, "email": signer.email, "firstName": signer.first_name or signer.email,
                 "lastName": signer.last_name or "-", "auth": auth, "delivery": {"email": True}}]})
        documents = []
        for index, document in enumerate(spec.documents, start=1):
            boxes = signature_boxes(document.content, len(spec.signers))
            documents.append({"id": f"doc{index}", "name": document_name(document.title), "index": index,
                              "approvals": [{"role": f"signer{signer.order}", "fields": [
                                  {"type": "SIGNATURE", "subtype": "FULLNAME", **box}]}
                                  for signer, box in zip(spec.signers, boxes, strict=True)]})
        payload = {"name": spec.subject[:255] or "Signature request", "description": spec.message[:2000],
                   "emailMessage": spec.message, "type": "PACKAGE", "status": "DRAFT", "autocomplete": True,
                   "settings": {"ceremony": {"declineButton": True}}, "roles": roles, "documents": documents,
                   "data": {"externalId": spec.external_id, "origin": "esign-connector"}}
        if spec.expires_in_days:
            due = datetime.fromtimestamp(self.clock(), UTC) + timedelta(days=spec.expires_in_days)
            payload["due"] = due.strftime("%Y-%m-%dT%H:%M:%SZ")
        return payload

    def create(self, spec: SigningRequestSpec) -> RequestRef:
        self._ensure_callback(spec.callback_url)
        payload = self._payload(spec)
        fields = [("payload", (None, json.dumps(payload), "text/plain; charset=UTF-8"))]
        for document, entry in zip(spec.documents, payload["documents"], strict=True):
            fields.append(("file", (entry["name"], document.content, "application/pdf")))
        body, content_type = urllib3.encode_multipart_formdata(fields)
        created = self.http.request("POST", "/packages", data=body, headers={
            "Content-Type": content_type, "Accept": _JSON}).json()
        package_id = created["id"]
        self._send(package_id, spec.send_reminders)
        return RequestRef(provider=self.name, request_id=package_id)

    def _send(self, package_id: str, reminders: bool) -> None:
        if reminders:
            self.http.request("POST", f"/packages/{package_id}/reminders", idempotent=True,
                              json={"packageId": package_id, **REMINDERS}, headers={"Accept": _JSON})
        self.http.request("POST", f"/packages/{package_id}", json={"status": "SENT"}, idempotent=True,
                          headers={"Accept": _JSON})

    def find_by_external_id(self, external_id: str) -> RequestRef | None:
        # The search semantics of GET /packages are not pinned down; scan the newest packages for our id.
        listed = self.http.request("GET", "/packages", params={
            "query": "inbox", "predefined": "all", "sort": "created", "dir": "desc", "from": 1,
            "to": self.search_depth}).json()
        for package in listed.get("results", []):
            if (package.get("data") or {}).get("externalId") == external_id:
                if package.get("status") == "DRAFT":  # created, then interrupted before it was sent
                    self._send(package["id"], reminders=False)
                return RequestRef(provider=self.name, request_id=package["id"])
        return None

    # --- following -----------------------------------------------------------------------------

    def _package(self, ref: RequestRef) -> dict:
        return self.http.request("GET", f"/packages/{ref.request_id}", headers={"Accept": _JSON}).json()

    def get_status(self, ref: RequestRef) -> RequestStatus:
        package = self._package(ref)
        signer_roles = [r for r in package.get("roles", []) if r.get("type", "SIGNER") == "SIGNER" and r.get("signers")]
        approvals = [a for d in package.get("documents", []) if d.get("id") != CONSENT for a in d.get("approvals", [])]
        statuses = []
        for role in sorted(signer_roles, key=lambda r: r.get("index", 0)):
            mine = [a for a in approvals if a.get("role") == role["id"]]
            statuses.append(SignerStatus(email=role["signers"][0]["email"],
                                         signed=bool(mine) and all(a.get("signed") for a in mine),
                                         viewed=any(a.get("accepted") for a in mine)))
        status = package.get("status", "")
        message = next(iter(package.get("messages") or []), None) or {}
        declined_by = (message.get("from") or {}).get("email")
        if package.get("trashed"):
            state = SigningState.CANCELLED
        elif status == "COMPLETED" or (status == "ARCHIVED" and package.get("completed")):
            state = SigningState.COMPLETED
        elif status in ("DECLINED", "OPTED_OUT"):
            state = SigningState.DECLINED
        elif status == "EXPIRED":
            state = SigningState.EXPIRED
        elif any(s.signed for s in statuses):
            state = SigningState.PARTIALLY_SIGNED
        elif any(s.viewed for s in statuses):
            state = SigningState.VIEWED
        else:
            state = SigningState.SENT
        declined = state == SigningState.DECLINED
        statuses = [SignerStatus(s.email, s.signed, declined and s.email == declined_by, s.viewed,
                                 message.get("content") if declined and s.email == declined_by else None)
                    for s in statuses]
        return RequestStatus(state=state, signers=tuple(statuses),
                             decline_reason=message.get("content") if declined else None,
                             declined_by=declined_by if declined else None,
                             external_id=(package.get("data") or {}).get("externalId"), provider_status=status)

    def download_signed(self, ref: RequestRef) -> list[SignedFile]:
        package = self._package(ref)
        if package.get("status") not in ("COMPLETED", "ARCHIVED"):
            raise ProviderValidationError(self.display_name, "the signed documents are not available: the package "
                                          f"is {package.get('status')}")
        documents = sorted((d for d in package.get("documents", []) if d.get("id") != CONSENT),
                           key=lambda d: d.get("index", 0))
        return [SignedFile(filename=f"{d['name']} - signed.pdf", content=self.http.request(
            "GET", f"/packages/{ref.request_id}/documents/{d['id']}/pdf",
            headers={"Accept": "application/octet-stream; esl-api-version=11.68.0"}).content) for d in documents]

    def download_evidence(self, ref: RequestRef) -> SignedFile:
        content = self.http.request("GET", f"/packages/{ref.request_id}/evidence/summary",
                                    headers={"Accept": "application/pdf; esl-api-version=11.68.0"}).content
        return SignedFile(filename="evidence summary.pdf", content=content)

    def cancel(self, ref: RequestRef) -> None:
        # OneSpan has no "void": pull the package back from the signers, then trash it.
        self.http.request("POST", f"/packages/{ref.request_id}", json={"status": "DRAFT"}, idempotent=True)
        self.http.request("POST", f"/packages/{ref.request_id}", json={"trashed": True}, idempotent=True)

    def send_reminder(self, ref: RequestRef) -> None:
        for signer in self.get_status(ref).signers:
            if not signer.signed:
                self.http.request("POST", f"/packages/{ref.request_id}/notifications", json={"email": signer.email})

    # --- callbacks -----------------------------------------------------------------------------

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        expected = f"Basic {self._callback_key}"
        if not self._callback_key or not hmac.compare_digest(headers.get("authorization", ""), expected):
            raise WebhookRejected(401, "callback key missing or wrong")
        if headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            raise WebhookRejected(415, "OneSpan callbacks must be application/json")
        try:
            event = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise WebhookRejected(400, "callback body is not JSON") from None
        if not isinstance(event, dict) or not all(isinstance(event.get(k), str) and event[k]
                                                  for k in ("name", "packageId", "createdDate")):
            raise WebhookRejected(400, "callback lacks name, packageId or createdDate")
        try:
            created = datetime.fromisoformat(event["createdDate"].replace("Z", "+00:00"))
        except ValueError:
            raise WebhookRejected(400, "createdDate is not an ISO-8601 date") from None
        if created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        if abs(self.clock() - created.timestamp()) > self.replay_window:
            raise WebhookRejected(400, "stale event: createdDate is outside the replay window")
        identity = "|".join(str(event.get(k) or "") for k in ("name", "packageId", "sessionUser", "documentId",
                                                               "createdDate"))
        return WebhookEvent(provider=self.name, event_id=hashlib.sha256(identity.encode()).hexdigest()[:40],
                            request_id=event["packageId"], kind=event["name"], occurred_at=created,
                            state_hint=_HINTS.get(event["name"]))
