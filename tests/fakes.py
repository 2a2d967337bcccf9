"""In-memory versions of the two ports, for the engine's unit tests.

They keep the ports' promises (idempotent fields, files found again by checksum, requests
found again by external id, no write after its effect's deadline: connector.ports.send_deadline) without
any HTTP, so engine tests assert on outcomes.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from connector.ports.crm import CRM, NOT_SENT, CRMError, FileUpload, Opportunity, PollResult, Writeback, WritebackResult
from connector.ports.provider import (
    Blob,
    ProviderCapabilities,
    ProviderSendTooLate,
    ProviderValidationError,
    RequestRef,
    RequestStatus,
    SignedFile,
    SignerDelivery,
    SignerStatus,
    SigningProvider,
    SigningRequestSpec,
    SigningState,
    WebhookEvent,
    WebhookRejected,
)
from connector.ports.send_deadline import SendWindowClosed, check_may_send


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

    def missing_parts(self, writeback: Writeback) -> Writeback:
        self.calls += 1
        present_sums = {f.checksum for f in self.attached.get(writeback.opportunity_id, [])}
        present_subjects = set(self.tasks.get(writeback.opportunity_id, []))
        return writeback.without(
            files=[f for f in writeback.files if f.checksum in present_sums],
            tasks=[t for t in writeback.tasks if t.subject in present_subjects],
        )


def _may_write(what: str) -> None:
    try:
        check_may_send("POST", what)
    except SendWindowClosed as exc:
        raise CRMError(str(exc), code=NOT_SENT, backpressure=True) from None


@dataclass
class FakeRequest:
    ref: RequestRef
    spec: SigningRequestSpec
    status: RequestStatus


class FakeProvider(SigningProvider):
    name = "fake"
    display_name = "FakeSign"

    def __init__(self, capabilities: ProviderCapabilities | None = None, name: str = "fake"):
        self.name = name
        self.capabilities = capabilities or ProviderCapabilities(multiple_documents=True, languages=None)
        self.requests: dict[str, FakeRequest] = {}
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

    def create(self, spec: SigningRequestSpec) -> RequestRef:
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
        self.requests[ref.request_id] = FakeRequest(ref, spec, RequestStatus(
            state=SigningState.SENT, external_id=spec.external_id,
            signers=tuple(SignerStatus(email=s.email) for s in spec.signers)))
        if self.lose_next_create_response:
            exc, self.lose_next_create_response = self.lose_next_create_response, None
            raise exc
        return ref

    def find_by_external_id(self, external_id: str) -> RequestRef | None:
        return next((r.ref for r in self.requests.values() if r.spec.external_id == external_id), None)

    def resume(self, ref: RequestRef) -> None:
        self.resumed.append(ref.request_id)

    def set_state(self, request_id: str, state: SigningState, **changes) -> None:
        request = self.requests[request_id]
        request.status = replace(request.status, state=state, **changes)

    def get_status(self, ref: RequestRef) -> RequestStatus:
        return self.requests[ref.request_id].status

    def download_signed(self, ref: RequestRef, max_bytes: int | None = None) -> list[SignedFile]:
        spec = self.requests[ref.request_id].spec
        files = [SignedFile(d.filename, d.content + b"\n%signed") for d in spec.documents]
        self.download_limits.append(max_bytes)
        if max_bytes is not None and any(f.blob.size > max_bytes for f in files):
            raise ProviderValidationError(self.display_name, f"download larger than {max_bytes:,} bytes")
        return files

    def download_evidence(self, ref: RequestRef, max_bytes: int | None = None) -> SignedFile:
        return SignedFile("evidence.pdf", b"%PDF-1.4 evidence for " + ref.request_id.encode())

    def cancel(self, ref: RequestRef) -> None:
        self.set_state(ref.request_id, SigningState.CANCELLED)

    def send_reminder(self, ref: RequestRef) -> None:
        self.reminders.append(ref.request_id)

    def signing_url(self, ref: RequestRef, signer_email: str) -> str:
        self.signing_url_calls += 1
        signer = next(s for s in self.requests[ref.request_id].spec.signers if s.email == signer_email)
        assert signer.delivery == SignerDelivery.EMBEDDED, "only an embedded signer has a signing URL"
        return f"https://fake.example/sign/{ref.request_id}/{signer_email}"

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        if headers.get("x-fake-signature") != "good":
            raise WebhookRejected(401, "bad signature")
        request_id = body.decode()
        return WebhookEvent(provider=self.name, event_id=f"{request_id}-{len(self.requests)}",
                            request_id=request_id, kind="changed")
