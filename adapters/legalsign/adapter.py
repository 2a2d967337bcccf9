"""Legalsign (Legalesign's REST API v1) behind the SigningProvider port.

A request is one Legalesign document: upload the PDF (`POST /templatepdf/`), give it one signature
field per signer on its last page (`POST /templatepdf/{id}/fields/`), then `POST /document/` with
the signers in order and our job id as `tag`. After a crash the group's documents are scanned for
that tag. Legalesign documents no expired status: the signers' deadline also travels in `tag1`,
and a document still in progress after it is reported as expired. Callbacks carry no signature
we can verify; see `adapters.legalsign.callbacks` for how they are accepted.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

import requests
from pypdf import PdfReader

from adapters.legalsign.callbacks import parse_realtime_callback, path_token, token_matches
from adapters.transport.http import ProviderHttp
from connector.ports.provider import (
    ProviderAuthError,
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

log = logging.getLogger(__name__)
_NAME = "Legalsign"

DEFAULT_BASE_URL = "https://eu-api.legalesign.com/api/v1"
# The API host serves the PDF; where its redirect points is not documented (config/example.env).
DEFAULT_DOWNLOAD_HOSTS = ["*.legalesign.com"]
DOC_FIELDS_DONE, DOC_SIGNED, DOC_REMOVED, DOC_REJECTED = 20, 30, 40, 50
SIGNER_NOT_SENT, SIGNER_SCHEDULED, SIGNER_VISITED, SIGNER_SIGNED, SIGNER_DOWNLOADED, SIGNER_REJECTED = (
    4, 5, 20, 40, 50, 60)
REALTIME = 10  # notify_when of a realtime webhook in GET /notifications/
_NAME_CHARS = re.compile(r"[^-\w' ]")
_TAG = re.compile(r"[-\w\[\]\:\;\/\.\, _]{1,250}")
_ID = re.compile(r"[-\w]{1,64}")  # uuids and slugs; anything else must not reach a URL path
_DEADLINE = "%Y-%m-%dT%H:%M:%SZ"
_PAGE_SIZE = 100
_REMINDER_TEXT = "A reminder: your signature is still needed."
_MAX_PDF_BYTES = 100 * 1024 * 1024


def _person(value: str, fallback: str) -> str:
    return (_NAME_CHARS.sub("", value).strip() or fallback)[:60]


def _last_segment(uri: str) -> str:
    """The id at the end of a resource URI, absolute (`https://…/document/<id>/`) or a path;
    empty when it is not a plain id."""
    parts = [part for part in uri.split("?")[0].split("/") if part]
    return parts[-1] if parts and _ID.fullmatch(parts[-1]) else ""


def _signers(document: dict) -> list[dict]:
    """`signer_objects` (added 2026-01), or the older 8-element `signers` arrays."""
    if isinstance(document.get("signer_objects"), list):
        found = [s for s in document["signer_objects"] if isinstance(s, dict)]
    else:
        found = [{"uuid": _last_segment(str(row[0])), "email": row[3], "status": row[6], "order": row[7]}
                 for row in document.get("signers") or [] if isinstance(row, list) and len(row) >= 8]
    return sorted(found, key=lambda s: _number(s.get("order")))


def _number(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _signer_status(signer: dict, reason: str | None = None) -> SignerStatus:
    code = _number(signer.get("status"))
    return SignerStatus(email=signer.get("email") or "", signed=code in (SIGNER_SIGNED, SIGNER_DOWNLOADED),
                        declined=code == SIGNER_REJECTED, viewed=code >= SIGNER_VISITED,
                        decline_reason=reason if code == SIGNER_REJECTED else None)


class LegalsignProvider(SigningProvider):
    name = "legalsign"
    display_name = _NAME
    # One PDF per Legalesign document; SMS verification through the signer's `sms` number.
    # Embedded: `do_email` is one switch per document (false suppresses every email), and
    # `GET /signer/{id}/new-link/` mints a signing link; so a request is all embedded or all emailed.
    # The Legalsign API has no language field (reference legalsign.md): only the default, English, is possible.
    capabilities = ProviderCapabilities(sms_authentication=True, multiple_documents=False, signing_order=True,
                                        embedded_signing=True, mixed_delivery=False, languages=frozenset())

    def __init__(self, username: str, api_key: str, group: str, base_url: str = DEFAULT_BASE_URL,
                 callback_secret: str = "", download_hosts: list[str] | None = None,
                 require_https_downloads: bool = True, session: requests.Session | None = None,
                 timeout: float = 30.0, clock: Callable[[], float] = time.time, *,
                 replay_window_seconds: int = 900, retry_wait_initial: float = 0.5, search_depth: int = 2000):
        self.group = group
        self._callback_secret = callback_secret
        self._secrets = tuple(s for s in (api_key, callback_secret, path_token(callback_secret)) if s)
        self.download_hosts = list(download_hosts or DEFAULT_DOWNLOAD_HOSTS)
        self.require_https_downloads = require_https_downloads
        self.clock = clock
        self.replay_window = replay_window_seconds
        self.search_depth = search_depth
        self._subscribed: set[str] = set()
        self._subscribe_lock = threading.Lock()
        self.http = ProviderHttp(provider=_NAME, base_url=base_url,
                                 auth_header=f"ApiKey {username}:{api_key}", session=session, timeout=timeout,
                                 describe_error=self._describe_error, wait_initial=retry_wait_initial)

    def __repr__(self) -> str:
        return f"LegalsignProvider(base_url={self.http.base_url!r}, group={self.group!r})"

    def _describe_error(self, response: requests.Response) -> str:
        """Legalesign's error body as one line of text (field: message), never as vendor JSON."""
        try:
            body = response.json()
        except ValueError:
            text = " ".join(response.text.split())[:200] or response.reason or ""
        else:
            def flatten(value, path: str) -> list[str]:
                if isinstance(value, dict):
                    return [line for key, inner in value.items()
                            for line in flatten(inner, f"{path}.{key}" if path else str(key))]
                if isinstance(value, list):
                    return [f"{path}: {' '.join(str(v) for v in value)}"]
                return [f"{path}: {value}" if path else str(value)]

            text = "; ".join(flatten(body, ""))[:300] or response.reason or ""
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text

    def _get_json(self, path: str, **kwargs) -> object:
        response = self.http.request("GET", path, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise ProviderTransientError(_NAME, f"GET {path.split('?')[0]} answered with a body that is not "
                                         "JSON") from None

    # --- callbacks ---------------------------------------------------------------------------

    def callback_path_token(self) -> str:
        """The secret last segment of the callback URL (see `adapters.legalsign.callbacks`)."""
        return path_token(self._callback_secret)

    def callback_path(self) -> str:
        return f"/webhooks/{self.name}/{self.callback_path_token()}"

    def accepts_path_token(self, token: str | None) -> bool:
        return token_matches(self._callback_secret, token)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        return parse_realtime_callback(headers, body, provider=self.name, now=self.clock(),
                                       replay_window=self.replay_window)

    def _ensure_subscribed(self, url: str) -> None:
        """Register the realtime callback once; Legalesign's webhooks belong to the API user, so an
        existing registration (from an earlier run) is looked up first rather than duplicated."""
        with self._subscribe_lock:
            if url in self._subscribed:
                return
            hooks = self._get_json("/notifications/")
            hooks = hooks if isinstance(hooks, list) else []
            if not any(isinstance(h, dict) and h.get("url") == url and h.get("notify_when") == REALTIME
                       and h.get("active", True) for h in hooks):
                registration = {"url": url, "notify": "realtime", "eventFilter": "", "group": self.group}
                self.http.request("POST", "/subscribe/", json=registration, idempotent=True)
                log.info("Legalsign: realtime callback registered for group %s", self.group)
            self._subscribed.add(url)

    # --- creating ----------------------------------------------------------------------------

    @property
    def _group_uri(self) -> str:
        return f"/api/v1/group/{self.group}/"

    def create(self, spec: SigningRequestSpec) -> RequestRef:
        if len(spec.documents) != 1:
            raise ProviderValidationError(_NAME, f"a document carries one PDF; {len(spec.documents)} given")
        if not _TAG.fullmatch(spec.external_id):
            raise ProviderValidationError(_NAME, "the job id cannot be used as a Legalesign tag")
        if any(s.auth == SignerAuth.SMS and not s.mobile_phone for s in spec.signers):
            raise ProviderValidationError(_NAME, "SMS verification needs the signer's mobile number")
        document = spec.documents[0]
        fields = self._signature_fields(document.content, len(spec.signers))
        self._ensure_subscribed(spec.callback_url)
        upload = self.http.request("POST", "/templatepdf/", json={
            "group": self._group_uri, "pdf_file": base64.b64encode(document.content).decode("ascii"),
            "title": document.title[:120], "process_tags": False, "archive_upon_send": True})
        pdf_id = _last_segment(upload.headers.get("Location", ""))
        if not pdf_id:
            raise ProviderTransientError(_NAME, "the PDF upload answered without a Location")
        self.http.request("POST", f"/templatepdf/{pdf_id}/fields/", json=fields, idempotent=True)
        created = self.http.request("POST", "/document/", json=self._document_body(spec, pdf_id))
        document_id = _last_segment(created.headers.get("Location", ""))
        if not document_id:
            raise ProviderTransientError(_NAME, "the send answered without a Location")
        return RequestRef(provider=self.name, request_id=document_id)

    def _document_body(self, spec: SigningRequestSpec, pdf_id: str) -> dict:
        signers = sorted(spec.signers, key=lambda s: s.order)
        deadline = None
        if spec.expires_in_days:
            deadline = datetime.fromtimestamp(self.clock(), UTC) + timedelta(days=spec.expires_in_days)
        entries = []
        for signer in signers:
            entry: dict[str, object] = {"firstname": _person(signer.first_name, "Signer"),
                     "lastname": _person(signer.last_name, "-"), "email": signer.email,
                     "subject": spec.subject[:150], "message": spec.message}
            if signer.auth == SignerAuth.SMS:
                entry["sms"] = signer.mobile_phone
            if deadline:
                entry["expires"], entry["timezone"] = deadline.strftime("%Y-%m-%dT%H:%M:%S"), "UTC"
            entries.append(entry)
        return {
            "group": self._group_uri, "name": spec.documents[0].title[:60] or "Document",
            "templatepdf": f"/api/v1/templatepdf/{pdf_id}/", "signers": entries,
            # Signers who share one order number sign in parallel; otherwise strictly in order.
            "signers_in_order": len(signers) == 1 or len({s.order for s in signers}) > 1,
            "signature_type": 4, "append_pdf": True, "do_email": self._emails_wanted(signers),
            "auto_archive": False,
            "reminders": "default" if spec.send_reminders else "", "tag": spec.external_id,
            "tag1": deadline.strftime(_DEADLINE) if deadline else "", "return_signer_links": False}

    def _emails_wanted(self, signers: list[SignerSpec]) -> bool:
        embedded = [s.delivery == SignerDelivery.EMBEDDED for s in signers]
        if any(embedded) and not all(embedded):
            raise ProviderValidationError(_NAME, "Legalesign emails every signer of a document or none; embedded "
                                          "and emailed signers cannot share one")
        return not any(embedded)

    def _signature_fields(self, content: bytes, signer_count: int) -> list[dict]:
        """One signature box per signer, two per row, near the foot of the last page."""
        try:
            page = len(PdfReader(io.BytesIO(content)).pages)
        except Exception:  # pypdf raises several types for unreadable or encrypted files
            raise ProviderValidationError(_NAME, "the PDF could not be read to place signature "
                                          "fields") from None
        fields = []
        for index in range(signer_count):
            row, column = divmod(index, 2)
            top, left = 0.78 - row * 0.08, 0.08 + column * 0.46
            fields.append({"ax": round(left, 4), "ay": round(top, 4), "bx": round(left + 0.38, 4),
                           "by": round(top + 0.06, 4), "page": page, "element_type": "signature",
                           "signer": index + 1, "label": f"Signature {index + 1}", "optional": False})
        return fields

    def find_by_external_id(self, external_id: str) -> RequestRef | None:
        # The list's order is not documented, so every page is read (up to search_depth documents).
        offset = 0
        while offset < self.search_depth:
            listed = self._get_json("/document/", params={
                "group": self.group, "limit": _PAGE_SIZE, "offset": offset, "nosigners": "1"})
            objects = listed.get("objects") if isinstance(listed, dict) else None
            if not isinstance(objects, list):
                raise ProviderTransientError(_NAME, "the document list has an unexpected shape")
            for document in objects:
                found = isinstance(document, dict) and document.get("tag") == external_id
                if found and _ID.fullmatch(str(document.get("uuid", ""))):
                    return RequestRef(provider=self.name, request_id=str(document["uuid"]))
            offset += len(objects)
            meta = listed.get("meta") if isinstance(listed, dict) else None
            if not objects or not (isinstance(meta, dict) and meta.get("next")):
                return None
        return None

    # --- following -----------------------------------------------------------------------------

    def _document(self, ref: RequestRef) -> dict:
        document = self._get_json(f"/document/{ref.request_id}/")
        if not isinstance(document, dict) or not isinstance(document.get("status"), int):
            raise ProviderTransientError(_NAME, "the document has an unexpected shape")
        return document

    def _deadline_passed(self, document: dict) -> bool:
        try:
            deadline = datetime.strptime(document.get("tag1") or "", _DEADLINE).replace(tzinfo=UTC)
        except ValueError:
            return False
        return deadline.timestamp() < self.clock()

    def get_status(self, ref: RequestRef) -> RequestStatus:
        document = self._document(ref)
        code, signers = document["status"], _signers(document)
        decliner = next((s for s in signers if s.get("status") == SIGNER_REJECTED), None)
        reason = None
        if code == DOC_REJECTED and decliner and _ID.fullmatch(str(decliner.get("uuid", ""))):
            rejection = self._get_json(f"/signer/{decliner['uuid']}/rejection/")
            reason = (rejection.get("reason") if isinstance(rejection, dict) else None) or None
        statuses = tuple(_signer_status(s, reason) for s in signers)
        if code == DOC_SIGNED:
            # Everyone signed; the final PDF follows shortly (document.finalPdfCreated).
            final = document.get("download_final")
            state = SigningState.COMPLETED if final else SigningState.PARTIALLY_SIGNED
        elif code == DOC_REMOVED:
            state = SigningState.CANCELLED
        elif code == DOC_REJECTED:
            state = SigningState.DECLINED
        elif self._deadline_passed(document):
            state = SigningState.EXPIRED
        elif code == DOC_FIELDS_DONE or any(s.signed for s in statuses):
            state = SigningState.PARTIALLY_SIGNED
        elif any(s.viewed for s in statuses):
            state = SigningState.VIEWED
        else:
            state = SigningState.SENT
        rejected = code == DOC_REJECTED
        return RequestStatus(state=state, signers=statuses, decline_reason=reason if rejected else None,
                             declined_by=decliner.get("email") if decliner and rejected else None,
                             external_id=document.get("tag") or None, provider_status=str(code))

    def download_signed(self, ref: RequestRef, max_bytes: int | None = None) -> list[SignedFile]:
        document = self._document(ref)
        if document["status"] != DOC_SIGNED or not document.get("download_final"):
            raise ProviderValidationError(_NAME, "the signed PDF is not ready: the document is not signed")
        response = self.http.request("GET", f"/pdf/{ref.request_id}/", allow_redirects=False)
        if response.status_code in (201, 202):
            raise ProviderTransientError(_NAME, "the signed PDF is being restored from the archive")
        content = response.content
        if response.status_code in (301, 302, 303, 307, 308):
            # A short-lived link on Legalesign's storage, fetched without our Authorization header.
            content = self.http.download(response.headers.get("Location", ""),
                                         allowed_hosts=self.download_hosts, max_bytes=max_bytes or _MAX_PDF_BYTES,
                                         require_https=self.require_https_downloads)
        if not content.startswith(b"%PDF"):
            raise ProviderTransientError(_NAME, "the signed document download is not a PDF")
        expected = document.get("hash_value")
        if expected and hashlib.sha256(content).hexdigest() != str(expected).lower():
            raise ProviderTransientError(_NAME, "the signed PDF does not match its hash_value")
        name = re.sub(r"[\\/]", "-", document.get("name") or "document")
        return [SignedFile(filename=f"{name} - signed.pdf", content=content)]

    def download_evidence(self, ref: RequestRef, max_bytes: int | None = None) -> SignedFile:
        content = self.http.request("GET", f"/document/{ref.request_id}/auditlog/").content
        if not content.startswith(b"%PDF"):
            raise ProviderTransientError(_NAME, "the audit log download is not a PDF")
        return SignedFile(filename="audit log.pdf", content=content)

    def cancel(self, ref: RequestRef) -> None:
        try:
            # email=true: Legalesign tells the signers the document was voided.
            self.http.request("DELETE", f"/document/{ref.request_id}/", params={"email": "true"},
                              idempotent=True)
        except ProviderValidationError:
            state = self.get_status(ref).state
            if state != SigningState.CANCELLED:
                raise ProviderValidationError(
                    _NAME, f"the document can no longer be voided: it is {state.value}") from None

    def signing_url(self, ref: RequestRef, signer_email: str) -> str:
        signer = next((s for s in _signers(self._document(ref))
                       if str(s.get("email") or "").lower() == signer_email.lower()), None)
        if signer is None or not _ID.fullmatch(str(signer.get("uuid", ""))):
            raise ProviderValidationError(_NAME, f"{signer_email} is not a signer of document {ref.request_id}")
        # A fresh one-use link each time (201, link in Location); the one written last is the one in use.
        link = self.http.request("GET", f"/signer/{signer['uuid']}/new-link/").headers.get("Location", "")
        if not link.startswith(("https://", "http://")):
            raise ProviderTransientError(_NAME, "the new signing link answer carried no absolute Location")
        return link

    def send_reminder(self, ref: RequestRef) -> None:
        failed = []
        for signer in _signers(self._document(ref)):
            # Not yet invited (waiting for an earlier signer), finished or rejected: nothing to remind.
            code = _number(signer.get("status"))
            invited_and_pending = code not in (SIGNER_NOT_SENT, SIGNER_SCHEDULED) and code < SIGNER_SIGNED
            if not invited_and_pending or not _ID.fullmatch(str(signer.get("uuid", ""))):
                continue
            try:
                self.http.request("POST", f"/signer/{signer['uuid']}/send-reminder/",
                                  json={"text": _REMINDER_TEXT})
            except ProviderAuthError:  # Legalesign answers 401 when a reminder could not be sent
                failed.append(signer.get("email") or "a signer")
        if failed:
            raise ProviderTransientError(_NAME, f"the reminder to {', '.join(failed)} could not be sent")
