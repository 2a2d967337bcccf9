"""SignRequest (API v1) behind the SigningProvider port.

One request = one quick-create call (document + signers). Our job id travels as the document's
`external_id`, which `/documents/?external_id=` finds again after a crash. Callbacks are checked
in `signrequest_callbacks`. No SignRequest JSON leaves this module: everything returned is a
`connector.ports.provider` type.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import requests

from adapters.signrequest.callbacks import parse_callback
from adapters.transport.http import PROVIDER_CALLS, ProviderHttp
from connector.ports.blobs import DEFAULT_SPOOL_BYTES, Blob, json_body
from connector.ports.provider import (
    ProviderCapabilities,
    ProviderTransientError,
    ProviderValidationError,
    RequestRef,
    RequestStatus,
    SignedFile,
    SignerAuth,
    SignerDelivery,
    SignerSpec,
    SignerStatus,
    SigningProvider,
    SigningRequestSpec,
    SigningState,
    WebhookEvent,
)
from connector.ports.retry import RetryPolicy

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://signrequest.com/api/v1"
# Resource hosts carry the team subdomain; file links are pre-signed S3 URLs on SignRequest's bucket.
DEFAULT_DOWNLOAD_HOSTS = ("signrequest.com", "*.signrequest.com", "signrequest-pro.s3.amazonaws.com")
DEFAULT_MAX_DOWNLOAD_BYTES = 100 * 1024 * 1024

_STATES = {
    "co": SigningState.SENT, "ne": SigningState.SENT, "se": SigningState.SENT, "vi": SigningState.VIEWED,
    "si": SigningState.COMPLETED, "do": SigningState.COMPLETED, "sd": SigningState.COMPLETED,
    "de": SigningState.DECLINED, "ca": SigningState.CANCELLED, "xp": SigningState.EXPIRED,
    "ec": SigningState.FAILED, "es": SigningState.FAILED,
}
_SIGNED_CODES = frozenset({"si", "do", "sd"})


def describe_error(response: requests.Response) -> str:
    """Flatten DRF-style error bodies ({"detail": ...}, {"field": [...]}, nested per signer index)
    into "signers[0].email: Enter a valid email address."."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason
    return "; ".join(_flatten(body, "")) or response.reason


def _flatten(value: Any, path: str) -> list[str]:
    if isinstance(value, dict):
        return [m for key, inner in value.items() for m in _flatten(inner, _join(path, key))]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return [_label(path, " ".join(value))]
    if isinstance(value, list):
        return [m for index, inner in enumerate(value) for m in _flatten(inner, f"{path}[{index}]")]
    return [_label(path, str(value))] if value not in (None, "") else []


def _join(path: str, key: str) -> str:
    # The wrappers DRF (and the 2021 spec) put around messages are not field names.
    if key in ("detail", "non_field_errors", "errors"):
        return path
    return f"{path}.{key}" if path else key


def _label(path: str, message: str) -> str:
    return f"{path}: {message}" if path else message


# The signer `language` enum of the API (reference signrequest.md, signer fields).
LANGUAGES = frozenset({"en", "en-gb", "nl", "fr", "de", "he", "da", "fi", "hu", "it", "no", "pl", "pt", "es", "sv",
                       "ru", "ja"})


class SignRequestProvider(SigningProvider):
    name = "signrequest"
    display_name = "SignRequest"
    # Embedded: a signer given `embed_url_user_id` gets an `embed_url` and no invitation email; such signers
    # mix freely with emailed ones in one request.
    capabilities = ProviderCapabilities(sms_authentication=True, multiple_documents=False, signing_order=True,
                                        embedded_signing=True, mixed_delivery=True, languages=LANGUAGES)

    def __init__(self, api_token: str, base_url: str = DEFAULT_BASE_URL, from_email: str | None = None,
                 download_hosts: Sequence[str] = DEFAULT_DOWNLOAD_HOSTS, require_https_downloads: bool = True,
                 session: requests.Session | None = None, timeout: float = 30.0,
                 clock: Callable[[], float] = time.time, replay_window_seconds: int = 900,
                 max_download_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES, retry: RetryPolicy = PROVIDER_CALLS,
                 retry_wait_initial: float | None = None, spool_bytes: int = DEFAULT_SPOOL_BYTES):
        self._token = api_token
        self.from_email = from_email
        self.download_hosts = list(download_hosts)
        self.require_https_downloads = require_https_downloads
        self.clock = clock
        self.replay_window = replay_window_seconds
        self.max_download_bytes = max_download_bytes
        self._signed = _SignedDocuments()
        self.http = ProviderHttp(provider=self.display_name, base_url=base_url,
                                 auth_header=f"Token {api_token}", session=session, timeout=timeout,
                                 retry=retry, wait_initial=retry_wait_initial, describe_error=describe_error,
                                 spool_bytes=spool_bytes)

    def __repr__(self) -> str:
        return f"SignRequestProvider(base_url={self.http.base_url!r})"

    # --- sending -----------------------------------------------------------------------------

    def create(self, spec: SigningRequestSpec) -> RequestRef:
        if len(spec.documents) != 1:
            raise ProviderValidationError(self.display_name, "a SignRequest request carries exactly one "
                                          f"document; {len(spec.documents)} were given")
        document = spec.documents[0]
        payload: dict[str, Any] = {
            "file_from_content": None,  # the document's base64, streamed into the body in this place
            "file_from_content_name": document.filename,
            "name": document.filename,
            "external_id": spec.external_id,
            "events_callback_url": spec.callback_url,
            "who": "o",
            "subject": spec.subject,
            "message": spec.message,
            "send_reminders": spec.send_reminders,
            "signers": [self._signer(signer, spec.language) for signer in spec.signers],
        }
        if self.from_email:
            payload["from_email"] = self.from_email
        if spec.expires_in_days:
            payload["auto_expire_days"] = spec.expires_in_days
        # The body is what json=payload would send, produced piece by piece: a 100 MB PDF is 133 MB of base64.
        created = self.http.request_json("POST", "/signrequest-quick-create/",
                                         data=json_body(payload, "file_from_content", document.blob),
                                         headers={"Content-Type": "application/json"})
        if not isinstance(created, dict):
            created = {}
        document_url, signrequest_uuid = created.get("document"), created.get("uuid")
        if not isinstance(document_url, str) or not isinstance(signrequest_uuid, str):
            # The request may exist all the same: the engine's find_by_external_id recovers it.
            raise ProviderTransientError(self.display_name, "quick-create answered without document or uuid")
        return RequestRef(provider=self.name, request_id=_uuid_from_url(document_url),
                          details={"signrequest_uuid": signrequest_uuid})

    def _signer(self, signer: SignerSpec, language: str) -> dict[str, Any]:
        # SignRequest takes the language per signer (the e-mails and pages each signer sees).
        entry: dict[str, Any] = {"email": signer.email, "first_name": signer.first_name,
                                 "last_name": signer.last_name, "order": signer.order, "needs_to_sign": True,
                                 "language": language}
        if signer.auth == SignerAuth.SMS:
            if not signer.mobile_phone:
                raise ProviderValidationError(self.display_name, f"{signer.email} needs SMS verification "
                                              "but has no mobile phone")
            entry["verify_phone_number"] = signer.mobile_phone
        if signer.delivery == SignerDelivery.EMBEDDED:
            # Our id for the person, shown in SignRequest's signing log: the email the CRM holds for them.
            entry["embed_url_user_id"] = signer.email
        return entry

    def find_by_external_id(self, external_id: str) -> RequestRef | None:
        listed = self.http.request_json("GET", "/documents/", params={"external_id": external_id})
        results = listed.get("results") if isinstance(listed, dict) else None
        # Re-check the id ourselves: a server that ignored the filter would otherwise hand back any document.
        matches = [d for d in results or [] if isinstance(d, dict) and d.get("external_id") == external_id
                   and isinstance(d.get("uuid"), str)]
        if not matches:
            return None
        newest = max(matches, key=lambda d: str(d.get("created") or ""))
        signrequest_uuid = _embedded_signrequest(newest).get("uuid")
        details = {"signrequest_uuid": signrequest_uuid} if signrequest_uuid else {}
        return RequestRef(provider=self.name, request_id=newest["uuid"], details=details)

    # --- reading -----------------------------------------------------------------------------

    def _document(self, ref: RequestRef) -> dict[str, Any]:
        document = self.http.request_json("GET", f"/documents/{ref.request_id}/")
        if not isinstance(document, dict):
            raise ProviderTransientError(self.display_name, "a document answered with an unexpected shape")
        return document

    def get_status(self, ref: RequestRef) -> RequestStatus:
        document = self._document(ref)
        if document.get("status") in _SIGNED_CODES and not document.get("processing"):
            self._signed.keep(ref.request_id, document)  # its fresh links serve the downloads that follow
        code = str(document.get("status") or "")
        signers = tuple(_signer_status(s) for s in _required_signers(document))
        state = _STATES.get(code, SigningState.SENT)
        some_signed = any(s.signed for s in signers)
        if state == SigningState.COMPLETED and document.get("processing"):
            # Still being processed: the signed PDF may be stale, so not complete yet.
            state = SigningState.PARTIALLY_SIGNED if some_signed else SigningState.SENT
        elif state in (SigningState.SENT, SigningState.VIEWED) and some_signed:
            state = SigningState.PARTIALLY_SIGNED
        decliner = next((s for s in signers if s.declined), None) if state == SigningState.DECLINED else None
        return RequestStatus(state=state, signers=signers, external_id=document.get("external_id") or None,
                             declined_by=decliner.email if decliner else None, provider_status=code,
                             decline_reason=decliner.decline_reason if decliner else None)

    def download_signed(self, ref: RequestRef, max_bytes: int | None = None) -> list[SignedFile]:
        document = self._signed_document(ref)
        blob = self._download(document.get("pdf"), document.get("security_hash"), "signed PDF", max_bytes)
        return [SignedFile(filename=f"{_stem(document)} - signed.pdf", blob=blob)]

    def download_evidence(self, ref: RequestRef, max_bytes: int | None = None) -> SignedFile:
        document = self._signed_document(ref)
        signing_log = document.get("signing_log") or {}
        blob = self._download(signing_log.get("pdf"), signing_log.get("security_hash"), "signing log", max_bytes)
        return SignedFile(filename=f"{_stem(document)} - signing log.pdf", blob=blob)

    def _signed_document(self, ref: RequestRef) -> dict[str, Any]:
        """The document with fresh file links (they live five minutes), once it is signed and settled: the one the
        status check just read, else read now."""
        document = self._signed.recent(ref.request_id)
        if document is not None:
            return document
        document = self._document(ref)
        code = document.get("status")
        if code not in _SIGNED_CODES:
            raise ProviderValidationError(self.display_name, f"document {ref.request_id} is not signed yet "
                                          f"(status {code!r}); there is nothing to download")
        if document.get("processing"):
            raise ProviderTransientError(self.display_name, f"document {ref.request_id} is still processing")
        return document

    def _download(self, url: Any, expected_sha256: Any, what: str, max_bytes: int | None) -> Blob:
        if not isinstance(url, str) or not url:
            raise ProviderTransientError(self.display_name, f"the signed document has no {what} link yet")
        blob = self.http.download_blob(url, allowed_hosts=self.download_hosts,
                                       max_bytes=max_bytes or self.max_download_bytes,
                                       require_https=self.require_https_downloads)
        if not expected_sha256:
            log.warning("SignRequest gave no security hash for the %s; it was not verified", what)
        elif not hmac.compare_digest(blob.sha256, str(expected_sha256).lower()):
            blob.close()
            raise ProviderTransientError(self.display_name, f"the {what} does not match its security hash")
        return blob

    # --- acting on a sent request ------------------------------------------------------------

    def cancel(self, ref: RequestRef) -> None:
        # Cancelling twice asks for the same end state, so a lost answer may be retried.
        self.http.request("POST", f"/signrequests/{self._signrequest_uuid(ref)}/cancel_signrequest/", json={},
                          idempotent=True)

    def send_reminder(self, ref: RequestRef) -> None:
        uuid = self._signrequest_uuid(ref)
        self.http.request("POST", f"/signrequests/{uuid}/resend_signrequest_email/", json={})

    def signing_url(self, ref: RequestRef, signer_email: str) -> str:
        signrequest = self.http.request_json("GET", f"/signrequests/{self._signrequest_uuid(ref)}/")
        signers = signrequest.get("signers") if isinstance(signrequest, dict) else None
        signer = next((s for s in signers or [] if isinstance(s, dict)
                       and str(s.get("email") or "").lower() == signer_email.lower()), None)
        if signer is None:
            raise ProviderValidationError(self.display_name, f"{signer_email} is not a signer of {ref.request_id}")
        url = signer.get("embed_url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise ProviderValidationError(self.display_name, f"no signing link for {signer_email}: the signer was "
                                          "not sent with embed_url_user_id, or has signed already")
        return url

    def _signrequest_uuid(self, ref: RequestRef) -> str:
        uuid = ref.details.get("signrequest_uuid")
        if not uuid:  # a ref found by external id before its request existed
            uuid = _embedded_signrequest(self._document(ref)).get("uuid")
        if not uuid:
            raise ProviderValidationError(self.display_name, f"{ref.request_id} has no signing request")
        return str(uuid)

    # --- callbacks ---------------------------------------------------------------------------

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        return parse_callback(headers, body, api_token=self._token, now=self.clock(),
                              replay_window=self.replay_window)


def _required_signers(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The signers we asked for: the sender SignRequest adds itself (needs_to_sign false) is left out."""
    signers = _embedded_signrequest(document).get("signers") or []
    return [s for s in signers if isinstance(s, dict) and s.get("needs_to_sign", True)]


def _embedded_signrequest(document: Mapping[str, Any]) -> Mapping[str, Any]:
    signrequest = document.get("signrequest")
    return signrequest if isinstance(signrequest, dict) else {}


def _signer_status(signer: Mapping[str, Any]) -> SignerStatus:
    declined = bool(signer.get("declined"))
    reason = signer.get("message") if declined else None
    return SignerStatus(email=str(signer.get("email") or ""), signed=bool(signer.get("signed")),
                        declined=declined, viewed=bool(signer.get("viewed")),
                        decline_reason=reason.strip() if isinstance(reason, str) and reason.strip() else None,
                        signed_at=_moment(signer.get("signed_on")), declined_at=_moment(signer.get("declined_on")))


def _moment(value: object) -> datetime | None:
    """A signer's `signed_on` / `declined_on` (ISO 8601); None when absent or not a time."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _stem(document: Mapping[str, Any]) -> str:
    name = str(document.get("name") or "document").replace("/", "_").replace("\\", "_")
    return name[:-4] if name.lower().endswith(".pdf") else name


def _uuid_from_url(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


class _SignedDocuments:
    """Signed documents as a status check read them, for `LINK_REUSE_SECONDS`: completing a request then takes
    one read instead of three (status, signed PDF link, signing-log link). Their links live five minutes."""

    LINK_REUSE_SECONDS = 60.0

    def __init__(self) -> None:
        self._documents: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()  # oldest first
        self._lock = threading.Lock()

    def keep(self, request_id: str, document: dict[str, Any]) -> None:
        now = time.monotonic()
        with self._lock:
            while self._documents and now - next(iter(self._documents.values()))[0] > self.LINK_REUSE_SECONDS:
                self._documents.popitem(last=False)
            self._documents.pop(request_id, None)
            self._documents[request_id] = (now, document)

    def recent(self, request_id: str) -> dict[str, Any] | None:
        with self._lock:
            kept = self._documents.get(request_id)
        if kept is None or time.monotonic() - kept[0] > self.LINK_REUSE_SECONDS:
            return None
        return kept[1]
