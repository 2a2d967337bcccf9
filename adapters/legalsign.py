"""Legalsign (Legalesign's REST API v1) behind the SigningProvider port.

A request: upload the PDF (`/templatepdf/`), give it one signature field per signer on its last
page, then `POST /document/` with our job id as `tag`. After a crash the group's newest
documents are scanned for that tag. Realtime callbacks carry headers whose signing scheme is not
public, so they are accepted only on a secret URL path and the engine confirms every event
through `get_status`. Legalesign has no expiry status: a request whose signers' deadline has
passed without completion is reported as expired.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

import requests
from pypdf import PdfReader

from adapters.base import (
    ProviderAuthError,
    ProviderCapabilities,
    ProviderTransientError,
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

_NAME = re.compile(r"[^-\w' ]")
_TAG = re.compile(r"^[-\w\[\]\:\;\/\.\, _]{0,250}$")
_HINTS = {"finalPdfCreated": SigningState.COMPLETED, "rejected": SigningState.DECLINED,
          "completed": SigningState.PARTIALLY_SIGNED, "visiting": SigningState.VIEWED,
          "emailOpened": SigningState.VIEWED}
SIGNED, REJECTED, VISITED = 40, 60, 15


def _describe_error(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason

    def flatten(value, path: str) -> list[str]:
        if isinstance(value, dict):
            return [m for k, v in value.items() for m in flatten(v, f"{path}.{k}" if path else k)]
        if isinstance(value, list):
            return [f"{path}: {' '.join(str(v) for v in value)}"]
        return [f"{path}: {value}"]

    return "; ".join(flatten(body, "")) or response.reason


def _person(value: str, fallback: str) -> str:
    return (_NAME.sub("", value).strip() or fallback)[:60]


def _deadline_passed(expires_at: str, now: float) -> bool:
    try:
        return bool(expires_at) and datetime.fromisoformat(expires_at).timestamp() < now
    except ValueError:
        return False


def _uuid(location: str) -> str:
    return [part for part in location.split("/") if part][-1]


class LegalsignProvider(SigningProvider):
    name = "legalsign"
    display_name = "Legalsign"
    capabilities = ProviderCapabilities(sms_authentication=True, multiple_documents=False, signing_order=True)

    def __init__(self, username: str, api_key: str, group: str, base_url: str = "https://eu-api.legalesign.com/api/v1",
                 callback_secret: str = "", download_hosts: list[str] | None = None,
                 require_https_downloads: bool = True, session: requests.Session | None = None,
                 timeout: float = 30.0, clock: Callable[[], float] = time.time, replay_window_seconds: int = 900,
                 retry_wait_initial: float = 0.5, search_depth: int = 100):
        self.group = group
        self._secret = callback_secret
        self.download_hosts = download_hosts or ["*.legalesign.com", "*.amazonaws.com"]
        self.require_https_downloads = require_https_downloads
        self.clock = clock
        self.replay_window = replay_window_seconds
        self.search_depth = search_depth
        self._subscribed = False
        self.http = ProviderHttp(provider=self.display_name, base_url=base_url,
                                 auth_header=f"ApiKey {username}:{api_key}", session=session, timeout=timeout,
                                 describe_error=_describe_error, wait_initial=retry_wait_initial)

    def __repr__(self) -> str:
        return f"LegalsignProvider(base_url={self.http.base_url!r}, group={self.group!r})"

    # --- callbacks path ----------------------------------------------------------------------

    def callback_token(self) -> str:
        return hmac.new(self._secret.encode(), b"legalsign-callback-path", hashlib.sha256).hexdigest()[:40]

    def callback_path(self) -> str:
        return f"/webhooks/{self.name}/{self.callback_token()}"

    def accepts_path_token(self, token: str | None) -> bool:
        return bool(self._secret) and token is not None and hmac.compare_digest(token, self.callback_token())

    # --- creating ----------------------------------------------------------------------------

    @property
    def _group_uri(self) -> str:
        return f"/api/v1/group/{self.group}/"

    def _subscribe(self, url: str) -> None:
        if not self._subscribed:
            self.http.request("POST", "/subscribe/", json={"url": url, "notify": "realtime", "eventFilter": "",
                                                          "group": self.group}, idempotent=True)
            self._subscribed = True

    def create(self, spec: SigningRequestSpec) -> RequestRef:
        if len(spec.documents) != 1:
            raise ProviderValidationError(self.display_name, f"a document carries one PDF; {len(spec.documents)} given")
        if not _TAG.match(spec.external_id):
            raise ProviderValidationError(self.display_name, "the job id cannot be used as a Legalesign tag")
        self._subscribe(spec.callback_url)
        document = spec.documents[0]
        upload = self.http.request("POST", "/templatepdf/", json={
            "group": self._group_uri, "pdf_file": base64.b64encode(document.content).decode("ascii"),
            "title": document.title[:120], "process_tags": False})
        pdf_id = _uuid(upload.headers.get("Location", ""))
        self.http.request("POST", f"/templatepdf/{pdf_id}/fields/", json=self._fields(document.content, spec),
                          idempotent=True)
        expires = None
        if spec.expires_in_days:
            expires = (datetime.fromtimestamp(self.clock(), UTC) + timedelta(days=spec.expires_in_days))
        signers = []
        for signer in spec.signers:
            entry = {"firstname": _person(signer.first_name, "Signer"), "lastname": _person(signer.last_name, "-"),
                     "email": signer.email, "subject": spec.subject[:150], "message": spec.message}
            if signer.auth == SignerAuth.SMS:
                entry["sms"] = signer.mobile_phone
            if expires:
                entry["expires"], entry["timezone"] = expires.strftime("%Y-%m-%dT%H:%M:%S"), "UTC"
            signers.append(entry)
        created = self.http.request("POST", "/document/", json={
            "group": self._group_uri, "name": document.title[:60] or "Document",
            "templatepdf": f"/api/v1/templatepdf/{pdf_id}/", "signers": signers, "signature_type": 4,
            "append_pdf": True, "do_email": True, "signers_in_order": True, "auto_archive": False,
            "reminders": "default" if spec.send_reminders else "", "tag": spec.external_id,
            # Legalesign has no expired status; the deadline travels with the document so that status
            # checks (also on a request found again after a crash) can tell an expired one.
            "tag1": expires.strftime("%Y-%m-%dT%H:%M:%SZ") if expires else "", "return_signer_links": False})
        return RequestRef(provider=self.name, request_id=_uuid(created.headers.get("Location", "")))

    @staticmethod
    def _fields(content: bytes, spec: SigningRequestSpec) -> list[dict]:
        page = len(PdfReader(io.BytesIO(content)).pages)
        fields = []
        for index, _signer in enumerate(spec.signers):
            row, column = divmod(index, 2)
            top = 0.78 - row * 0.08
            left = 0.08 + column * 0.46
            fields.append({"ax": round(left, 4), "ay": round(top, 4), "bx": round(left + 0.38, 4),
                           "by": round(top + 0.06, 4), "page": page, "element_type": "signature",
                           "signer": index + 1, "label": f"Signature {index + 1}", "optional": False})
        return fields

    def find_by_external_id(self, external_id: str) -> RequestRef | None:
        listed = self.http.request("GET", "/document/", params={"group": self.group, "limit": self.search_depth}).json()
        for document in listed.get("objects", []):
            if document.get("tag") == external_id:
                return RequestRef(provider=self.name, request_id=document["uuid"])
        return None

    # --- following -----------------------------------------------------------------------------

    def _document(self, ref: RequestRef) -> dict:
        return self.http.request("GET", f"/document/{ref.request_id}/").json()

    def get_status(self, ref: RequestRef) -> RequestStatus:
        document = self._document(ref)
        signers = sorted(document.get("signer_objects") or [], key=lambda s: s.get("order", 0))
        statuses = [SignerStatus(email=s["email"], signed=s.get("status", 0) >= SIGNED and s["status"] != REJECTED,
                                 declined=s.get("status") == REJECTED, viewed=s.get("status", 0) >= VISITED)
                    for s in signers]
        code = document.get("status")
        decliner = next((s for s in signers if s.get("status") == REJECTED), None)
        reason = None
        if code == 50 and decliner:
            reason = self.http.request("GET", f"/signer/{decliner['uuid']}/rejection/").json().get("reason") or None
            statuses = [SignerStatus(s.email, s.signed, s.declined, s.viewed, reason if s.declined else None)
                        for s in statuses]
        expires_at = (document.get("tag1") or "").replace("Z", "+00:00")
        if code == 30:
            state = SigningState.COMPLETED if document.get("download_final") else SigningState.PARTIALLY_SIGNED
        elif code == 40:
            state = SigningState.CANCELLED
        elif code == 50:
            state = SigningState.DECLINED
        elif _deadline_passed(expires_at, self.clock()):
            state = SigningState.EXPIRED
        elif any(s.signed for s in statuses) or code == 20:
            state = SigningState.PARTIALLY_SIGNED
        elif any(s.viewed for s in statuses):
            state = SigningState.VIEWED
        else:
            state = SigningState.SENT
        return RequestStatus(state=state, signers=tuple(statuses), decline_reason=reason,
                             declined_by=decliner["email"] if decliner and code == 50 else None,
                             external_id=document.get("tag"), provider_status=str(code))

    def download_signed(self, ref: RequestRef) -> list[SignedFile]:
        document = self._document(ref)
        if document.get("status") != 30 or not document.get("download_final"):
            raise ProviderValidationError(self.display_name, "the signed PDF is not ready: the document is not signed")
        response = self.http.request("GET", f"/pdf/{ref.request_id}/", allow_redirects=False)
        if response.status_code in (201, 202):
            raise ProviderTransientError(self.display_name, "the signed PDF is being restored from the archive")
        content = response.content
        if response.status_code == 302:
            content = self.http.download(response.headers["Location"], allowed_hosts=self.download_hosts,
                                         max_bytes=100 * 1024 * 1024, require_https=self.require_https_downloads)
        expected = document.get("hash_value")
        if expected and hashlib.sha256(content).hexdigest() != expected.lower():
            raise ProviderTransientError(self.display_name, "the signed PDF does not match its hash_value")
        return [SignedFile(filename=f"{document.get('name') or 'document'} - signed.pdf", content=content)]

    def download_evidence(self, ref: RequestRef) -> SignedFile:
        content = self.http.request("GET", f"/document/{ref.request_id}/auditlog/").content
        return SignedFile(filename="audit log.pdf", content=content)

    def cancel(self, ref: RequestRef) -> None:
        self.http.request("DELETE", f"/document/{ref.request_id}/", idempotent=True)

    def send_reminder(self, ref: RequestRef) -> None:
        document = self._document(ref)
        for signer in document.get("signer_objects") or []:
            if signer.get("status", 0) < SIGNED:
                try:
                    self.http.request("POST", f"/signer/{signer['uuid']}/send-reminder/",
                                      json={"text": "A reminder: your signature is still needed."})
                except ProviderAuthError:  # Legalesign answers 401 when the reminder could not be sent
                    raise ProviderTransientError(self.display_name, f"the reminder to {signer['email']} could not "
                                                 "be sent") from None

    # --- callbacks -----------------------------------------------------------------------------

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        if headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            raise WebhookRejected(415, "Legalsign realtime callbacks must be application/json")
        try:
            event = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise WebhookRejected(400, "callback body is not JSON") from None
        if not isinstance(event, dict) or not isinstance(event.get("data"), dict) or not event.get("event"):
            raise WebhookRejected(400, "callback lacks event or data")
        data, kind = event["data"], str(event["event"]).rsplit(".", 1)[-1]
        obj = event.get("object") or str(event["event"]).split(".")[0]
        document_id = data.get("uuid") if obj == "document" else data.get("document")
        if not isinstance(document_id, str) or not document_id:
            raise WebhookRejected(400, "callback names no document")
        created = event.get("created")
        if not isinstance(created, int | float) or abs(self.clock() - created) > self.replay_window:
            raise WebhookRejected(400, "stale or undated event")
        event_id = str(event.get("id") or hashlib.sha256(body).hexdigest()[:40])
        return WebhookEvent(provider=self.name, event_id=event_id, request_id=document_id, kind=f"{obj}.{kind}",
                            external_id=data.get("tag") or None, occurred_at=datetime.fromtimestamp(created, UTC),
                            state_hint=_HINTS.get(kind))
