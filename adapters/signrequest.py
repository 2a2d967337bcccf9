"""SignRequest (API v1) behind the SigningProvider port.

One request = one quick-create call (document + signers). Our job id travels as the document's
`external_id`, which `/documents/?external_id=` finds again after a crash. Callbacks carry an
`event_hash` = HMAC-SHA256(api token, event_time + event_type); it covers no body, so the engine
confirms every event through `get_status`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import requests

from adapters.base import (
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

_STATES = {
    "co": SigningState.SENT, "ne": SigningState.SENT, "se": SigningState.SENT, "vi": SigningState.VIEWED,
    "si": SigningState.COMPLETED, "do": SigningState.COMPLETED, "sd": SigningState.COMPLETED,
    "ca": SigningState.CANCELLED, "de": SigningState.DECLINED, "xp": SigningState.EXPIRED,
    "ec": SigningState.FAILED, "es": SigningState.FAILED,
}
_EVENT_HINTS = {
    "signed": SigningState.COMPLETED, "declined": SigningState.DECLINED, "cancelled": SigningState.CANCELLED,
    "expired": SigningState.EXPIRED, "signer_signed": SigningState.PARTIALLY_SIGNED,
    "signer_viewed": SigningState.VIEWED, "convert_error": SigningState.FAILED, "sending_error": SigningState.FAILED,
}
DEFAULT_DOWNLOAD_HOSTS = ["signrequest.com", "*.signrequest.com", "signrequest-pro.s3.amazonaws.com"]


def _describe_error(response: requests.Response) -> str:
    """DRF-style error bodies: {"detail": ...}, {"field": [...]}, nested per signer."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason

    def flatten(value, path: str) -> list[str]:
        if isinstance(value, dict):
            return [m for key, inner in value.items() for m in flatten(inner, f"{path}.{key}" if path else key)]
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            return [f"{path}: {' '.join(value)}" if path not in ("detail", "non_field_errors") else " ".join(value)]
        if isinstance(value, list):
            return [m for index, inner in enumerate(value) for m in flatten(inner, f"{path}[{index}]")]
        return [f"{path}: {value}" if path not in ("detail",) else str(value)]

    return "; ".join(flatten(body, "")) or response.reason


class SignRequestProvider(SigningProvider):
    name = "signrequest"
    display_name = "SignRequest"
    capabilities = ProviderCapabilities(sms_authentication=True, multiple_documents=False, signing_order=True)

    def __init__(self, api_token: str, base_url: str = "https://signrequest.com/api/v1", from_email: str | None = None,
                 download_hosts: list[str] | None = None, require_https_downloads: bool = True,
                 session: requests.Session | None = None, timeout: float = 30.0,
                 clock: Callable[[], float] = time.time, replay_window_seconds: int = 900,
                 max_download_bytes: int = 100 * 1024 * 1024, retry_wait_initial: float = 0.5):
        self._token = api_token
        self.from_email = from_email
        self.download_hosts = download_hosts or DEFAULT_DOWNLOAD_HOSTS
        self.require_https_downloads = require_https_downloads
        self.clock = clock
        self.replay_window = replay_window_seconds
        self.max_download_bytes = max_download_bytes
        self.http = ProviderHttp(provider=self.display_name, base_url=base_url, auth_header=f"Token {api_token}",
                                 session=session, timeout=timeout, describe_error=_describe_error,
                                 wait_initial=retry_wait_initial)

    def __repr__(self) -> str:
        return f"SignRequestProvider(base_url={self.http.base_url!r})"

    # --- requests --------------------------------------------------------------------------

    def create(self, spec: SigningRequestSpec) -> RequestRef:
        if len(spec.documents) != 1:
            raise ProviderValidationError(self.display_name, f"a request carries exactly one document; "
                                          f"{len(spec.documents)} were given")
        document = spec.documents[0]
        payload: dict = {
            "file_from_content": base64.b64encode(document.content).decode("ascii"),
            "file_from_content_name": document.filename,
            "name": document.filename,
            "external_id": spec.external_id,
            "events_callback_url": spec.callback_url,
            "who": "o",
            "subject": spec.subject,
            "message": spec.message,
            "send_reminders": spec.send_reminders,
            "signers": [self._signer(s) for s in spec.signers],
        }
        if self.from_email:
            payload["from_email"] = self.from_email
        if spec.expires_in_days:
            payload["auto_expire_days"] = spec.expires_in_days
        created = self.http.request("POST", "/signrequest-quick-create/", json=payload).json()
        return RequestRef(provider=self.name, request_id=_uuid_from_url(created["document"]),
                          details={"signrequest_uuid": created["uuid"]})

    @staticmethod
    def _signer(signer) -> dict:
        entry = {"email": signer.email, "first_name": signer.first_name, "last_name": signer.last_name,
                 "order": signer.order, "needs_to_sign": True}
        if signer.auth == SignerAuth.SMS:
            entry["verify_phone_number"] = signer.mobile_phone
        return entry

    def find_by_external_id(self, external_id: str) -> RequestRef | None:
        found = self.http.request("GET", "/documents/", params={"external_id": external_id}).json()
        documents = [d for d in found.get("results", []) if d.get("external_id") == external_id]
        if not documents:
            return None
        document = documents[0]
        signrequest = document.get("signrequest") or {}
        return RequestRef(provider=self.name, request_id=document["uuid"],
                          details={"signrequest_uuid": signrequest.get("uuid", "")})

    def _document(self, ref: RequestRef) -> dict:
        return self.http.request("GET", f"/documents/{ref.request_id}/").json()

    def get_status(self, ref: RequestRef) -> RequestStatus:
        document = self._document(ref)
        code = document.get("status", "")
        signers = [s for s in (document.get("signrequest") or {}).get("signers", []) if s.get("needs_to_sign", True)]
        statuses = tuple(SignerStatus(email=s["email"], signed=bool(s.get("signed")), declined=bool(s.get("declined")),
                                      viewed=bool(s.get("viewed")), decline_reason=s.get("message") or None
                                      if s.get("declined") else None) for s in signers)
        state = _STATES.get(code, SigningState.SENT)
        if state == SigningState.COMPLETED and document.get("processing"):
            state = SigningState.PARTIALLY_SIGNED  # files may still be stale
        elif state in (SigningState.SENT, SigningState.VIEWED) and any(s.signed for s in statuses):
            state = SigningState.PARTIALLY_SIGNED
        decliner = next((s for s in statuses if s.declined), None)
        return RequestStatus(state=state, signers=statuses, external_id=document.get("external_id"),
                             declined_by=decliner.email if decliner else None,
                             decline_reason=decliner.decline_reason if decliner else None, provider_status=code)

    def _download(self, url: str | None, expected_sha256: str | None, what: str) -> bytes:
        if not url:
            raise ProviderValidationError(self.display_name, f"the {what} is not available: the document is not signed")
        content = self.http.download(url, allowed_hosts=self.download_hosts, max_bytes=self.max_download_bytes,
                                     require_https=self.require_https_downloads)
        if expected_sha256 and hashlib.sha256(content).hexdigest() != expected_sha256.lower():
            raise ProviderTransientError(self.display_name, f"the downloaded {what} does not match its security hash")
        return content

    def download_signed(self, ref: RequestRef) -> list[SignedFile]:
        document = self._document(ref)
        content = self._download(document.get("pdf"), document.get("security_hash"), "signed PDF")
        stem = (document.get("name") or "document").removesuffix(".pdf")
        return [SignedFile(filename=f"{stem} - signed.pdf", content=content)]

    def download_evidence(self, ref: RequestRef) -> SignedFile:
        document = self._document(ref)
        log = document.get("signing_log") or {}
        content = self._download(log.get("pdf"), log.get("security_hash"), "signing log")
        stem = (document.get("name") or "document").removesuffix(".pdf")
        return SignedFile(filename=f"{stem} - signing log.pdf", content=content)

    def cancel(self, ref: RequestRef) -> None:
        self.http.request("POST", f"/signrequests/{self._signrequest_uuid(ref)}/cancel_signrequest/", json={},
                          idempotent=True)

    def send_reminder(self, ref: RequestRef) -> None:
        self.http.request("POST", f"/signrequests/{self._signrequest_uuid(ref)}/resend_signrequest_email/", json={})

    def _signrequest_uuid(self, ref: RequestRef) -> str:
        uuid = ref.details.get("signrequest_uuid")
        if not uuid:
            uuid = ((self._document(ref).get("signrequest") or {}).get("uuid")) or ""
        if not uuid:
            raise ProviderValidationError(self.display_name, f"document {ref.request_id} has no signing request")
        return uuid

    # --- callbacks -------------------------------------------------------------------------

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        if not headers.get("content-type", "").split(";")[0].strip().lower() == "application/json":
            raise WebhookRejected(415, "SignRequest callbacks must be application/json")
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise WebhookRejected(400, "callback body is not JSON") from None
        if not isinstance(payload, dict):
            raise WebhookRejected(400, "callback body is not a JSON object")
        event_time, event_type, event_hash = (payload.get(k) for k in ("event_time", "event_type", "event_hash"))
        if not all(isinstance(v, str) and v for v in (event_time, event_type, event_hash)):
            raise WebhookRejected(400, "callback lacks event_time, event_type or event_hash")
        expected = hmac.new(self._token.encode(), f"{event_time}{event_type}".encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, event_hash.lower()):
            raise WebhookRejected(401, "event_hash does not match")
        try:
            occurred = float(event_time)
        except ValueError:
            raise WebhookRejected(400, "event_time is not a Unix time") from None
        if abs(self.clock() - occurred) > self.replay_window:
            raise WebhookRejected(400, "stale event: event_time is outside the replay window")
        document = payload.get("document")
        event_uuid = payload.get("uuid")
        if not isinstance(document, dict) or not isinstance(document.get("uuid"), str) or not event_uuid:
            raise WebhookRejected(400, "callback lacks document.uuid or the event uuid")
        return WebhookEvent(
            provider=self.name, event_id=str(event_uuid), request_id=document["uuid"], kind=event_type,
            external_id=document.get("external_id") if isinstance(document.get("external_id"), str) else None,
            occurred_at=datetime.fromtimestamp(occurred, UTC), state_hint=_EVENT_HINTS.get(event_type),
        )


def _uuid_from_url(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]
