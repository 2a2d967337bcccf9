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
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from urllib.parse import urlparse

import requests
import urllib3

from adapters.onespan.package import package_payload, reminder_body, reminders_wanted
from adapters.onespan.status import CONSENT, request_status, role_of, signers_due
from adapters.transport.callback_json import callback_json
from adapters.transport.http import ProviderHttp
from connector.ports.provider import (
    ProviderCapabilities,
    ProviderError,
    ProviderNotFound,
    ProviderQuotaError,
    ProviderTransientError,
    ProviderValidationError,
    RequestRef,
    RequestStatus,
    SignedFile,
    SigningProvider,
    SigningRequestSpec,
    SigningState,
    WebhookEvent,
    WebhookRejected,
)

log = logging.getLogger(__name__)
_VERSION = "esl-api-version=11.68.0"
_JSON = f"application/json; {_VERSION}"
_BINARY = f"application/octet-stream; {_VERSION}"
# Every name is in the `Callback.events` enum of API spec 11.51, which a server of that version checks.
# DOCUMENT_VIEWED is not (the Java SDK has it since 11.39): a view never ends a request, so the engine would
# not act on it anyway, and it is not worth a registration some servers refuse. Parsed if an account sends it.
CALLBACK_EVENTS = ("PACKAGE_ACTIVATE", "PACKAGE_COMPLETE", "PACKAGE_DECLINE", "PACKAGE_OPT_OUT",
                   "PACKAGE_EXPIRE", "PACKAGE_TRASH", "PACKAGE_DELETE", "SIGNER_COMPLETE", "DOCUMENT_SIGNED")
# After a refused registration, creates go ahead without it (status checks follow the requests) and it is
# tried again this much later, so that an account put right is picked up without a restart.
CALLBACK_RETRY_SECONDS = 3600.0
_HINTS = {"PACKAGE_ACTIVATE": SigningState.SENT, "PACKAGE_COMPLETE": SigningState.COMPLETED,
          "PACKAGE_DECLINE": SigningState.DECLINED, "PACKAGE_OPT_OUT": SigningState.DECLINED,
          "PACKAGE_EXPIRE": SigningState.EXPIRED, "PACKAGE_TRASH": SigningState.CANCELLED,
          "PACKAGE_DELETE": SigningState.CANCELLED, "SIGNER_COMPLETE": SigningState.PARTIALLY_SIGNED,
          "DOCUMENT_SIGNED": SigningState.PARTIALLY_SIGNED, "DOCUMENT_VIEWED": SigningState.VIEWED,
          "PACKAGE_READY_FOR_COMPLETE": SigningState.PARTIALLY_SIGNED}
# Where a package created before a crash can be: the SDK lists by status through `query`.
_FIND_QUERIES = ("DRAFT", "SENT", "COMPLETED", "DECLINED", "EXPIRED", "OPTED_OUT", "ARCHIVED", "trashed")
_PACKAGE_ID = re.compile(r"^[A-Za-z0-9_\-=]{1,255}$")


def _error_body(response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _describe_error(response: requests.Response) -> str:
    body = _error_body(response)
    key, message = str(body.get("messageKey") or ""), str(body.get("message") or body.get("technical") or "")
    if not body:
        return response.reason or f"HTTP {response.status_code}"
    return f"{message[:300]} ({key[:120]})" if key else message[:300]


class _OneSpanHttp(ProviderHttp):
    def error_for(self, response: requests.Response) -> ProviderError:
        # A 403 on create that is not about credentials is most likely the plan's transaction quota
        # (the exact messageKey is not published); say so, so that a person can act on it.
        key = str(_error_body(response).get("messageKey") or "")
        creating = response.request.method == "POST" and urlparse(response.url).path.endswith("/api/packages")
        if response.status_code == 403 and creating and not key.startswith("error.unauthorised") \
                and key != "error.forbidden.noPermission":
            detail, credential = _describe_error(response), self._auth_header.partition(" ")[2]
            detail = detail.replace(credential, "***") if credential else detail
            return ProviderQuotaError(self.provider, "OneSpan refused to create the transaction; the "
                                      f"account's plan or transaction quota may be used up ({detail})")
        return super().error_for(response)


class OneSpanProvider(SigningProvider):
    name = "onespan"
    display_name = "OneSpan Sign"
    # A role's signing URL can be read (`signing_url`), but OneSpan documents no way to keep one signer from
    # getting the invitation email, so embedded delivery is refused (capability off).
    # The package `language` is a free language code in the reference (no list of values): any is passed on.
    capabilities = ProviderCapabilities(sms_authentication=True, multiple_documents=True, signing_order=True,
                                        languages=None, reminder_schedule=True)

    def __init__(self, api_key: str, base_url: str = "https://sandbox.esignlive.com", callback_key: str = "",
                 download_hosts: list[str] | None = None, require_https_downloads: bool = True,
                 session: requests.Session | None = None, timeout: float = 30.0,
                 clock: Callable[[], float] = time.time, *, replay_window_seconds: int = 900,
                 retry_wait_initial: float = 0.5, search_depth: int = 100):
        # Every download is an authenticated API path under base_url (no provider-supplied links), so
        # download_hosts and require_https_downloads have nothing to guard; they are kept for a uniform setup.
        self.download_hosts = list(download_hosts or [])
        self.require_https_downloads = require_https_downloads
        self._callback_key = callback_key
        self.clock = clock
        self.replay_window = replay_window_seconds
        self.search_depth = min(max(1, search_depth), 100)
        self._callback_url: str | None = None
        self._callback_lock = threading.Lock()  # many workers create at once: one of them sets the callback up
        self._callback_retry_at = 0.0  # after a refused registration: when to try it again
        self._callback_refusal_logged = False
        self.http = _OneSpanHttp(provider=self.display_name, base_url=f"{base_url.rstrip('/')}/api",
                                 auth_header=f"Basic {api_key}", session=session, timeout=timeout,
                                 describe_error=_describe_error, wait_initial=retry_wait_initial)

    def __repr__(self) -> str:
        return f"OneSpanProvider(base_url={self.http.base_url!r})"

    def _json(self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs) -> dict:
        response = self.http.request(method, path, headers={"Accept": _JSON, **(headers or {})}, **kwargs)
        if response.status_code == 204 or not response.content:
            return {}
        try:
            body = response.json()
        except ValueError:
            raise ProviderTransientError(self.display_name,
                                         f"{method} {path} answered with a body that is not JSON") from None
        if not isinstance(body, dict):
            raise ProviderTransientError(self.display_name, f"{method} {path} answered with unexpected JSON")
        return body

    # --- creating ----------------------------------------------------------------------------

    def _ensure_callback(self, url: str) -> None:
        """OneSpan keeps one callback configuration per account: make it point at us, with our key.

        A refusal (the account or its API version will not take our configuration, the key may not change
        it) must not stop the create: without callbacks the engine's status checks still follow every
        request, only later. It is logged once and tried again after CALLBACK_RETRY_SECONDS. A transient
        failure is raised as before: the create is retried, and the registration with it."""
        if self._callback_url == url:
            return
        with self._callback_lock:
            if self._callback_url == url or self.clock() < self._callback_retry_at:
                return
            try:
                self._configure_callback(url)
            except ProviderError as exc:
                if exc.retriable:
                    raise
                self._callback_retry_at = self.clock() + CALLBACK_RETRY_SECONDS
                if not self._callback_refusal_logged:
                    self._callback_refusal_logged = True
                    log.warning("OneSpan refused the callback configuration, so no callbacks will arrive; "
                                "requests are followed by status checks instead, and the configuration is "
                                "tried again every %d minutes (%s)", CALLBACK_RETRY_SECONDS // 60, exc.message)
                return
            if self._callback_refusal_logged:
                log.info("OneSpan callback configuration accepted; callbacks will arrive again")
                self._callback_refusal_logged = False
            self._callback_url = url

    def _configure_callback(self, url: str) -> None:
        try:
            current = self._json("GET", "/callback")
        except ProviderNotFound:
            current = {}
        events = list(dict.fromkeys([*CALLBACK_EVENTS, *(current.get("events") or [])]))
        if current.get("url") != url or current.get("key") != self._callback_key \
                or not set(CALLBACK_EVENTS) <= set(current.get("events") or []):
            if current.get("url") and current.get("url") != url:
                log.warning("OneSpan account callback pointed at %s; it now points at this connector",
                            urlparse(str(current["url"])).hostname)
            self._json("POST", "/callback", json={"url": url, "key": self._callback_key, "events": events},
                       idempotent=True)

    def create(self, spec: SigningRequestSpec) -> RequestRef:
        self._ensure_callback(spec.callback_url)
        payload = package_payload(spec, datetime.fromtimestamp(self.clock(), UTC))
        fields: list[tuple[str, tuple]] = [
            ("payload", (None, json.dumps(payload), "text/plain; charset=UTF-8"))]
        for document, entry in zip(spec.documents, payload["documents"], strict=True):
            # The SDK names each file part after its document; the server may match on it.
            fields.append(("file", (entry["name"], document.content, "application/pdf")))
        body, content_type = urllib3.encode_multipart_formdata(fields)
        created = self._json("POST", "/packages", data=body, headers={"Content-Type": content_type})
        package_id = created.get("id")
        if not isinstance(package_id, str) or not _PACKAGE_ID.match(package_id):
            # The engine looks for the package by our external id before creating again.
            raise ProviderTransientError(self.display_name,
                                         "package created but its id was not in the answer")
        try:
            self._send(package_id, reminder_body(spec.send_reminders, spec.reminder_schedule))
        except ProviderError as exc:
            raise exc.took_effect_perhaps() from None  # the package exists: the engine finds and resumes it
        return RequestRef(provider=self.name, request_id=package_id)

    def _send(self, package_id: str, reminders: dict | None) -> None:
        if reminders and not self._json("GET", f"/packages/{package_id}/reminders"):
            self._json("POST", f"/packages/{package_id}/reminders",
                       json={"packageId": package_id, **reminders}, idempotent=True)
        self._json("POST", f"/packages/{package_id}", json={"status": "SENT"}, idempotent=True)

    def find_by_external_id(self, external_id: str) -> RequestRef | None:
        # GET /packages has no filter on `data`; scan the newest packages of each list for our id.
        for query in _FIND_QUERIES:
            listed = self._json("GET", "/packages", params={
                "query": query, "from": 1, "to": self.search_depth, "sort": "created", "dir": "desc"})
            for package in listed.get("results") or []:
                data = (package.get("data") or {}) if isinstance(package, dict) else {}
                if data.get("externalId") == external_id and isinstance(package.get("id"), str):
                    return RequestRef(provider=self.name, request_id=package["id"])
        return None

    def resume(self, ref: RequestRef) -> None:
        package = self._package(ref)
        if package.get("status") == "DRAFT" and not package.get("trashed"):
            # Created, then interrupted before it was sent: finish as create would have.
            self._send(ref.request_id, reminders_wanted(package.get("data") or {}))

    # --- following -----------------------------------------------------------------------------

    def _package(self, ref: RequestRef) -> dict:
        return self._json("GET", f"/packages/{ref.request_id}")

    def get_status(self, ref: RequestRef) -> RequestStatus:
        return request_status(self._package(ref))

    def _download(self, path: str, accept: str) -> bytes:
        content = self.http.request("GET", path, headers={"Accept": accept}).content
        if not content.startswith(b"%PDF-"):
            raise ProviderTransientError(self.display_name, f"GET {path} did not return a PDF")
        return content

    def download_signed(self, ref: RequestRef, max_bytes: int | None = None) -> list[SignedFile]:
        package = self._package(ref)
        if request_status(package).state != SigningState.COMPLETED:
            raise ProviderValidationError(self.display_name, "the signed documents are not available: "
                                          f"the package is {package.get('status')}")
        documents = sorted((d for d in package.get("documents") or [] if d.get("id") != CONSENT),
                           key=lambda d: d.get("index", 0))
        base = f"/packages/{ref.request_id}/documents"
        return [SignedFile(filename=f"{d.get('name') or d['id']} - signed.pdf",
                           content=self._download(f"{base}/{d['id']}/pdf", _BINARY)) for d in documents]

    def download_evidence(self, ref: RequestRef, max_bytes: int | None = None) -> SignedFile:
        content = self._download(f"/packages/{ref.request_id}/evidence/summary",
                                 f"application/pdf; {_VERSION}")
        return SignedFile(filename="evidence summary.pdf", content=content)

    def cancel(self, ref: RequestRef) -> None:
        # OneSpan has no "void": pull the package back from the signers (the SDK uses PUT), then trash it.
        self.http.request("PUT", f"/packages/{ref.request_id}", json={"status": "DRAFT"}, idempotent=True)
        self.http.request("POST", f"/packages/{ref.request_id}", json={"trashed": True}, idempotent=True)

    def send_reminder(self, ref: RequestRef) -> None:
        package = self._package(ref)
        if package.get("status") != "SENT" or package.get("trashed"):
            raise ProviderValidationError(self.display_name, f"no reminder sent: the package is "
                                          f"{'trashed' if package.get('trashed') else package.get('status')}")
        for email in signers_due(package):  # later signers have not been invited yet
            self.http.request("POST", f"/packages/{ref.request_id}/notifications", json={"email": email})

    def signing_url(self, ref: RequestRef, signer_email: str) -> str:
        role = role_of(self._package(ref), signer_email)
        if role is None:
            raise ProviderValidationError(self.display_name, f"{signer_email} is not a signer of {ref.request_id}")
        answer = self._json("GET", f"/packages/{ref.request_id}/roles/{role}/signingUrl")
        url = answer.get("url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise ProviderTransientError(self.display_name, "the signing URL answer carried no url")
        return url

    # --- callbacks -----------------------------------------------------------------------------

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        expected = f"Basic {self._callback_key}".encode()
        given = headers.get("authorization", "").encode("utf-8", "replace")
        if not self._callback_key or not hmac.compare_digest(given, expected):
            raise WebhookRejected(401, "callback key missing or wrong")
        if headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            raise WebhookRejected(415, "OneSpan callbacks must be application/json")
        event = callback_json(body)
        if not isinstance(event, dict) or not all(isinstance(event.get(k), str) and event[k]
                                                  for k in ("name", "packageId", "createdDate")):
            raise WebhookRejected(400, "callback lacks name, packageId or createdDate")
        if not _PACKAGE_ID.match(event["packageId"]) or len(event["name"]) > 100:
            raise WebhookRejected(400, "callback packageId or name is malformed")
        try:
            created = datetime.fromisoformat(event["createdDate"].replace("Z", "+00:00"))
        except ValueError:
            raise WebhookRejected(400, "createdDate is not an ISO-8601 date") from None
        if created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        # No event id on the wire; these fields together identify one event (reference §5.4).
        identity = "|".join(str(event.get(k) or "")
                            for k in ("name", "packageId", "sessionUser", "documentId", "createdDate"))
        hint = _HINTS.get(event["name"])
        if event["name"] == "DOCUMENT_SIGNED" and event.get("documentId") == CONSENT:
            hint = SigningState.VIEWED  # accepting the consent document opens the ceremony; nothing is signed
        # Outside the replay window: kept as a stale hint, not refused. OneSpan does not retry a failed
        # callback; its sender replays the one from the failure e-mail by hand, possibly days later.
        return WebhookEvent(provider=self.name, event_id=hashlib.sha256(identity.encode()).hexdigest()[:40],
                            request_id=event["packageId"], kind=event["name"], occurred_at=created,
                            state_hint=hint, stale=abs(self.clock() - created.timestamp()) > self.replay_window)
