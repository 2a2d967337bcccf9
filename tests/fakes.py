"""In-memory versions of the two ports, for the engine's unit tests.

They keep the ports' promises (idempotent fields, files found again by checksum, requests
found again by external id, no write after its effect's deadline: connector.ports.send_deadline) without
any HTTP, so engine tests assert on outcomes. FakeProvider runs the provider contract (tests/contract) like
the real adapters, so it cannot promise the engine more than they do.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from adapters.transport.callback_json import callback_json
from connector.ports.crm import CRM, NOT_SENT, CRMError, FileUpload, Opportunity, PollResult, Writeback, WritebackResult
from connector.ports.errors import ErrorKind
from connector.ports.provider import (
    Blob,
    ProviderCapabilities,
    ProviderNotFound,
    ProviderSendTooLate,
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
    WebhookRejected,
)
from connector.ports.send_deadline import SendWindowClosed, check_may_send
from sandbox.pdfgen import append_pages, text_pdf


@dataclass
class FakeCRM(CRM):
    opportunities: dict[str, Opportunity] = field(default_factory=dict)
    file_contents: dict[str, bytes] = field(default_factory=dict)
    fields: dict[str, dict[str, object]] = field(default_factory=dict)
    attached: dict[str, list[FileUpload]] = field(default_factory=dict)
    tasks: dict[str, list[str]] = field(default_factory=dict)
    calls: int = 0
    usage: tuple[int, int] | None = None  # what Salesforce would report in Sforce-Limit-Info
    usage_refreshes: int = 0
    polled_fields: list[tuple[str, ...]] = field(default_factory=list)  # the `fields` of each poll
    batch_reads: list[tuple[str, ...]] = field(default_factory=list)  # the Ids of each get_opportunities
    fail_next_apply: Exception | None = None
    crash_after_next_apply: Exception | None = None
    write_in_flight: Callable[[Writeback], None] | None = None  # a write that left, not yet processed
    clock: Callable[[], datetime] | None = None

    @property
    def api_calls(self) -> int:
        return self.calls

    @property
    def api_usage(self) -> tuple[int, int] | None:
        return self.usage

    def refresh_api_usage(self) -> None:
        self.calls += 1
        self.usage_refreshes += 1

    def poll_opportunities(self, stages: Sequence[str], modified_since: datetime | None,
                           fields: Sequence[str] = ()) -> PollResult:
        self.calls += 1
        self.polled_fields.append(tuple(fields))
        found = [o for o in self.opportunities.values()
                 if o.stage in stages and (modified_since is None or o.system_modstamp >= modified_since)]
        found.sort(key=lambda o: (o.system_modstamp, o.id))
        return PollResult(opportunities=tuple(found))

    def get_opportunity(self, opportunity_id: str, fields: Sequence[str] = ()) -> Opportunity | None:
        self.calls += 1
        return self.opportunities.get(opportunity_id)

    def get_opportunities(self, opportunity_ids: Sequence[str], fields: Sequence[str] = ()) -> tuple[Opportunity, ...]:
        """One call for all of them, as one query."""
        self.calls += 1
        self.batch_reads.append(tuple(opportunity_ids))
        found = [self.opportunities[i] for i in dict.fromkeys(opportunity_ids) if i in self.opportunities]
        return tuple(sorted(found, key=lambda o: (o.system_modstamp, o.id)))

    def download_file(self, version_id: str) -> Blob:
        self.calls += 1
        if version_id not in self.file_contents:
            raise CRMError(f"ContentVersion {version_id} not found")
        return Blob.of(self.file_contents[version_id])

    def apply(self, writeback: Writeback) -> WritebackResult:
        _may_write("apply")
        self.calls += 1
        return self._write(writeback)

    def apply_many(self, writebacks: Sequence[Writeback]) -> list[WritebackResult | CRMError]:
        """One call for all of them, as one Composite call; each is written or refused on its own."""
        _may_write("apply_many")
        self.calls += 1
        results: list[WritebackResult | CRMError] = []
        for writeback in writebacks:
            try:
                results.append(self._write(writeback))
            except CRMError as exc:
                results.append(exc)
        return results

    def _write(self, writeback: Writeback) -> WritebackResult:
        if self.write_in_flight:
            self.write_in_flight(writeback)
        if self.fail_next_apply:
            exc, self.fail_next_apply = self.fail_next_apply, None
            raise exc
        self.fields.setdefault(writeback.opportunity_id, {}).update(writeback.fields)
        self._move_stage(writeback)
        self.attached.setdefault(writeback.opportunity_id, []).extend(writeback.files)
        self.tasks.setdefault(writeback.opportunity_id, []).extend(t.subject for t in writeback.tasks)
        if self.crash_after_next_apply:  # the write landed but the caller never hears back
            exc, self.crash_after_next_apply = self.crash_after_next_apply, None
            raise exc
        return WritebackResult()

    def _move_stage(self, writeback: Writeback) -> None:
        """As Salesforce does: a new StageName is a stage entry (LastStageChangeDate, SystemModstamp)."""
        opportunity = self.opportunities.get(writeback.opportunity_id)
        stage = writeback.fields.get("StageName")
        if opportunity is not None and isinstance(stage, str) and stage != opportunity.stage:
            now = self.clock() if self.clock else datetime.now(UTC)
            self.opportunities[opportunity.id] = replace(opportunity, stage=stage, stage_changed_at=now,
                                                         system_modstamp=now)

    def file_versions(self, opportunity_id: str, checksums: Sequence[str]) -> dict[str, str]:
        self.calls += 1
        present = {f.checksum for f in self.attached.get(opportunity_id, [])}
        return {checksum: version_id(checksum) for checksum in checksums if checksum in present}

    def missing_parts(self, writeback: Writeback) -> Writeback:
        self.calls += 1
        present_sums = {f.checksum for f in self.attached.get(writeback.opportunity_id, [])}
        present_subjects = set(self.tasks.get(writeback.opportunity_id, []))
        return writeback.without(
            files=[f for f in writeback.files if f.checksum in present_sums],
            tasks=[t for t in writeback.tasks if t.subject in present_subjects],
        )


def version_id(checksum: str) -> str:
    """The ContentVersion id the fake gives a File: one per content, like a checksum lookup finds it."""
    return "068" + checksum[:15].upper()


def _may_write(what: str) -> None:
    try:
        check_may_send("POST", what)
    except SendWindowClosed as exc:
        raise CRMError(str(exc), code=NOT_SENT, kind=ErrorKind.BACKPRESSURE) from None


class ActionRefused(ValueError):
    """A signer action the provider would not allow now (as the simulators' `ActionRefused`)."""


@dataclass(frozen=True)
class FakeCallback:
    """A callback the fake sent to its request's callback URL, signed as `parse_webhook` checks it."""

    url: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeRequest:
    ref: RequestRef
    spec: SigningRequestSpec
    state: SigningState = SigningState.SENT
    signers: dict[str, SignerStatus] = field(default_factory=dict)
    emailed: set[str] = field(default_factory=set)  # signers the fake sent an invitation
    sms_verified: set[str] = field(default_factory=set)
    declined_by: str | None = None
    decline_reason: str | None = None
    signed_files: list[SignedFile] = field(default_factory=list)
    evidence: SignedFile | None = None

    @property
    def status(self) -> RequestStatus:
        return RequestStatus(state=self.state, signers=tuple(self.signers.values()), external_id=self.spec.external_id,
                             declined_by=self.declined_by, decline_reason=self.decline_reason,
                             provider_status=self.state.value)

    def signer(self, email: str) -> SignerSpec:
        found = next((s for s in self.spec.signers if s.email == email), None)
        if found is None:
            raise ActionRefused(f"{email} is not a signer of {self.ref.request_id}")
        return found

    def waiting_for(self, signer: SignerSpec) -> SignerSpec | None:
        """The earlier signer this one waits for: a higher order signs after every lower one."""
        return next((s for s in self.spec.signers if s.order < signer.order and not self.signers[s.email].signed),
                    None)


class FakeProvider(SigningProvider):
    """A provider in memory that behaves as the real adapters against their simulators (tests/contract runs it):
    signers act in order through `view`, `sign` and `decline`, a request lapses through `expire`, signed copies
    and the evidence report are real PDFs, each change sends a callback signed with HMAC-SHA256 of its body
    (`sent_callbacks`), and what the capabilities do not declare is refused on `create`."""

    name = "fake"
    display_name = "FakeSign"

    def __init__(self, capabilities: ProviderCapabilities | None = None, name: str = "fake",
                 callback_secret: str | None = None):
        self.name = name
        self.capabilities = capabilities or ProviderCapabilities(multiple_documents=True, languages=None)
        self.callback_secret = callback_secret or f"{name} callback secret"
        self.requests: dict[str, FakeRequest] = {}
        self.sent_callbacks: list[FakeCallback] = []
        self.create_calls = 0
        self.resumed: list[str] = []
        self.reminders: list[str] = []
        self.signing_url_calls = 0
        self.download_limits: list[int | None] = []  # max_bytes of each download_signed call
        self.fail_next_create: Exception | None = None
        self.lose_next_create_response: Exception | None = None
        self.before_create: Callable[[], None] | None = None  # a create waiting to leave (a rate limiter, say)
        self.create_in_flight: Callable[[], None] | None = None  # a create that left, not yet processed
        self._ids = itertools.count(1)
        self._event_ids = itertools.count(1)

    # --- the port ------------------------------------------------------------------------------

    def create(self, spec: SigningRequestSpec) -> RequestRef:
        self._check_capabilities(spec)
        if self.before_create:
            self.before_create()
        try:
            check_may_send("POST", "create")
        except SendWindowClosed as exc:
            raise ProviderSendTooLate(self.display_name, str(exc)) from None
        if self.create_in_flight:
            self.create_in_flight()
        if self.fail_next_create:
            exc, self.fail_next_create = self.fail_next_create, None
            raise exc
        self.create_calls += 1
        ref = RequestRef(provider=self.name, request_id=f"req-{next(self._ids)}")
        request = self.requests[ref.request_id] = FakeRequest(
            ref, spec, signers={s.email: SignerStatus(email=s.email) for s in spec.signers})
        self._invite(request)
        self._emit(request, "sent")
        if self.lose_next_create_response:
            exc, self.lose_next_create_response = self.lose_next_create_response, None
            raise exc
        return ref

    def _check_capabilities(self, spec: SigningRequestSpec) -> None:
        """Refuse, as the real adapters do (ProviderValidationError), what this provider cannot send."""
        can = self.capabilities
        sms = [s for s in spec.signers if s.auth == SignerAuth.SMS]
        deliveries = {s.delivery for s in spec.signers}
        refusals = [
            (not spec.documents or not spec.signers, "a request needs at least one document and one signer"),
            (len(spec.documents) > 1 and not can.multiple_documents,
             f"a request carries one document; {len(spec.documents)} given"),
            (bool(sms) and not can.sms_authentication, "no SMS authentication"),
            (any(not s.mobile_phone for s in sms), "SMS verification needs the signer's mobile number"),
            (SignerDelivery.EMBEDDED in deliveries and not can.embedded_signing, "no embedded signing"),
            (len(deliveries) > 1 and not can.mixed_delivery, "embedded and emailed signers cannot share a request"),
            (can.languages is not None and spec.language not in can.languages | {"en"},
             f"no language {spec.language!r}"),
            (spec.reminder_schedule is not None and not can.reminder_schedule, "no reminder schedule"),
        ]
        problem = next((message for refused, message in refusals if refused), None)
        if problem:
            raise ProviderValidationError(self.display_name, problem)

    def find_by_external_id(self, external_id: str) -> RequestRef | None:
        return next((r.ref for r in self.requests.values() if r.spec.external_id == external_id), None)

    def resume(self, ref: RequestRef) -> None:
        self.resumed.append(ref.request_id)

    def get_status(self, ref: RequestRef) -> RequestStatus:
        return self._request(ref.request_id).status

    def download_signed(self, ref: RequestRef, max_bytes: int | None = None) -> list[SignedFile]:
        files = self._completed(ref).signed_files
        self.download_limits.append(max_bytes)
        if max_bytes is not None and any(f.blob.size > max_bytes for f in files):
            raise ProviderValidationError(self.display_name, f"download larger than {max_bytes:,} bytes")
        return files

    def download_evidence(self, ref: RequestRef, max_bytes: int | None = None) -> SignedFile:
        evidence = self._completed(ref).evidence
        assert evidence is not None
        return evidence

    def _completed(self, ref: RequestRef) -> FakeRequest:
        request = self._request(ref.request_id)
        if request.state != SigningState.COMPLETED:
            raise ProviderValidationError(self.display_name, f"request {ref.request_id} is {request.state}: "
                                          "there is nothing to download")
        return request

    def cancel(self, ref: RequestRef) -> None:
        request = self._request(ref.request_id)
        if request.state == SigningState.CANCELLED:
            return  # cancelling twice asks for the same end state
        self._refuse_if_final(request, "cancelled")
        self._finish(request, SigningState.CANCELLED, "cancelled")

    def send_reminder(self, ref: RequestRef) -> None:
        self._refuse_if_final(self._request(ref.request_id), "reminded")
        self.reminders.append(ref.request_id)

    def _refuse_if_final(self, request: FakeRequest, what: str) -> None:
        if request.state.is_final:
            raise ProviderValidationError(self.display_name, f"request {request.ref.request_id} cannot be {what}: "
                                          f"it is {request.state}")

    def signing_url(self, ref: RequestRef, signer_email: str) -> str:
        if not self.capabilities.embedded_signing:
            return super().signing_url(ref, signer_email)
        self.signing_url_calls += 1
        request = self._request(ref.request_id)
        signer = next((s for s in request.spec.signers if s.email == signer_email), None)
        if signer is None or signer.delivery != SignerDelivery.EMBEDDED:
            raise ProviderValidationError(self.display_name, f"no signing link for {signer_email}: not an embedded "
                                          f"signer of {ref.request_id}")
        return f"https://fake.example/sign/{ref.request_id}/{signer_email}"

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        given = headers.get("x-fake-signature", "")
        if not hmac.compare_digest(self._signature(body).encode(), given.encode("utf-8", "surrogatepass")):
            raise WebhookRejected(401, "x-fake-signature does not match")
        payload = callback_json(body)
        fields = payload if isinstance(payload, dict) else {}
        event_id, request_id, event_type = (fields.get(k) for k in ("event_id", "request_id", "event_type"))
        external_id = fields.get("external_id")
        if not all(isinstance(v, str) and v for v in (event_id, request_id, event_type)) \
                or not isinstance(external_id, str | None):
            raise WebhookRejected(400, "callback without event_id, request_id or event_type")
        return WebhookEvent(provider=self.name, event_id=event_id, request_id=request_id, kind=event_type,
                            external_id=external_id, state_hint=EVENT_HINTS.get(event_type))

    # --- what signers and time do (the simulators' signer actions) ------------------------------

    def view(self, request_id: str, email: str) -> None:
        request, signer = self._actionable(request_id, email)
        self._mark_viewed(request, signer)

    def sign(self, request_id: str, email: str) -> None:
        request, signer = self._actionable(request_id, email)
        earlier = request.waiting_for(signer)
        if earlier:
            raise ActionRefused(f"{email} must wait for {earlier.email} to sign first")
        if signer.auth == SignerAuth.SMS and email not in request.sms_verified:
            raise ActionRefused(f"{email} must enter the SMS code first")
        self._mark_viewed(request, signer)
        request.signers[email] = replace(request.signers[email], signed=True)
        request.state = SigningState.PARTIALLY_SIGNED
        self._invite(request)
        self._emit(request, "signer_signed")
        if all(s.signed for s in request.signers.values()):
            request.signed_files = [SignedFile(d.filename.removesuffix(".pdf") + " - signed.pdf",
                                               append_pages(d.content, [self._signatures(request)]))
                                    for d in request.spec.documents]
            request.evidence = SignedFile("evidence.pdf", text_pdf(
                [[f"Evidence report - {self.display_name}", f"Request {request_id}", *self._signatures(request)]]))
            self._finish(request, SigningState.COMPLETED, "signed")

    def sign_all(self, request_id: str) -> None:
        """Every signer who has not yet signs, in order: the request completes."""
        request = self._request(request_id)
        for signer in sorted(request.spec.signers, key=lambda s: s.order):
            if not request.signers[signer.email].signed:
                if signer.auth == SignerAuth.SMS:
                    self.enter_sms_code(request_id, signer.email, self.sms_code(request_id, signer.email))
                self.sign(request_id, signer.email)

    def end(self, request_id: str, state: SigningState, reason: str = "") -> None:
        """End a request as its signers or time would: everyone signs (completed), the signer whose turn it is
        declines with `reason`, it lapses (expired), or its sender cancels it at the provider (cancelled)."""
        request = self._request(request_id)
        if state == SigningState.COMPLETED:
            self.sign_all(request_id)
        elif state == SigningState.DECLINED:
            turn = next(s for s in request.spec.signers
                        if not request.signers[s.email].signed and request.waiting_for(s) is None)
            self.decline(request_id, turn.email, reason)
        elif state == SigningState.EXPIRED:
            self.expire(request_id)
        elif state == SigningState.CANCELLED:
            self.cancel(request.ref)
        else:
            raise ValueError(f"a request does not end {state}")

    def decline(self, request_id: str, email: str, reason: str) -> None:
        request, signer = self._actionable(request_id, email)
        earlier = request.waiting_for(signer)
        if earlier:
            raise ActionRefused(f"{email} has no access before {earlier.email} signed")
        self._mark_viewed(request, signer)
        request.signers[email] = replace(request.signers[email], declined=True, decline_reason=reason.strip() or None)
        request.declined_by, request.decline_reason = email, reason.strip() or None
        self._finish(request, SigningState.DECLINED, "declined")

    def expire(self, request_id: str) -> None:
        request = self._request(request_id)
        if request.state.is_final:
            raise ActionRefused(f"request {request_id} is already {request.state}")
        self._finish(request, SigningState.EXPIRED, "expired")

    def sms_code(self, request_id: str, email: str) -> str:
        """The code the fake would have texted the signer."""
        self._actionable(request_id, email)
        return f"{zlib.crc32(f'{request_id}/{email}'.encode()) % 10**6:06d}"

    def enter_sms_code(self, request_id: str, email: str, code: str) -> bool:
        if code.strip() == self.sms_code(request_id, email):
            self._request(request_id).sms_verified.add(email)
        return email in self._request(request_id).sms_verified

    def callback(self, request_id: str, event_type: str, *, external_id: str | None = None,
                 event_id: str | None = None) -> tuple[dict[str, str], bytes]:
        """The headers and body of a callback as the fake signs it (the same event id makes a redelivery)."""
        body = json.dumps({"event_id": event_id or f"evt-{next(self._event_ids)}", "request_id": request_id,
                           "external_id": external_id, "event_type": event_type}).encode()
        return {"content-type": "application/json", "x-fake-signature": self._signature(body)}, body

    # --- inside -------------------------------------------------------------------------------

    def _request(self, request_id: str) -> FakeRequest:
        request = self.requests.get(request_id)
        if request is None:
            raise ProviderNotFound(self.display_name, f"there is no request {request_id}")
        return request

    def _actionable(self, request_id: str, email: str) -> tuple[FakeRequest, SignerSpec]:
        request = self._request(request_id)
        signer = request.signer(email)
        if request.state.is_final:
            raise ActionRefused(f"request {request_id} is already {request.state}")
        if request.signers[email].signed:
            raise ActionRefused(f"{email} has already signed")
        return request, signer

    def _mark_viewed(self, request: FakeRequest, signer: SignerSpec) -> None:
        if not request.signers[signer.email].viewed:
            request.signers[signer.email] = replace(request.signers[signer.email], viewed=True)
            if request.state == SigningState.SENT:
                request.state = SigningState.VIEWED
            self._emit(request, "signer_viewed")

    def _invite(self, request: FakeRequest) -> None:
        """Email each signer whose turn it is, unless the signer is embedded."""
        request.emailed |= {s.email for s in request.spec.signers if s.delivery == SignerDelivery.EMAIL
                            and not request.signers[s.email].signed and request.waiting_for(s) is None}

    def _finish(self, request: FakeRequest, state: SigningState, event_type: str) -> None:
        request.state = state
        self._emit(request, event_type)

    def _emit(self, request: FakeRequest, event_type: str) -> None:
        headers, body = self.callback(request.ref.request_id, event_type, external_id=request.spec.external_id)
        self.sent_callbacks.append(FakeCallback(request.spec.callback_url, headers, body))

    def _signature(self, body: bytes) -> str:
        return hmac.new(self.callback_secret.encode(), body, hashlib.sha256).hexdigest()

    def _signatures(self, request: FakeRequest) -> list[str]:
        return [f"Signed by {s.first_name} {s.last_name} <{s.email}>" for s in request.spec.signers]


# The fake's callback event types, with the state each hints at (as an adapter's callbacks module lists them).
EVENT_HINTS = {"sent": SigningState.SENT, "signer_viewed": SigningState.VIEWED,
               "signer_signed": SigningState.PARTIALLY_SIGNED, "signed": SigningState.COMPLETED,
               "declined": SigningState.DECLINED, "expired": SigningState.EXPIRED,
               "cancelled": SigningState.CANCELLED}
