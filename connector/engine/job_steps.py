"""The signing engine: moves each job one committed step at a time.

new ──prepare+create──▶ sent ──write "Sent"──▶ awaiting ──status──▶ completing ──files+status──▶ receipt ─▶ done
 │                                                 └──────────────▶ closing (declined/expired/cancelled) ─▶ receipt
 └──bad input──▶ failing ──write error──▶ done              (receipt: sealed once, its two Files attached; a rule
                                                             with `receipt: false` goes straight to done)

Before each external side effect the job records it as `pending_effect`, with the time, and commits; if a
crash or a lost response leaves that mark behind, the next attempt first looks for the effect (the request by
our external id, the Files and Tasks by checksum and subject) instead of repeating it. It looks only once the
effect can no longer be on its way. A worker makes an effect's requests only while it holds the job's lease
(connector.ports.send_deadline refuses a write request after that; the daemon renews the leases of the jobs it holds
while it lives), and a request is answered or abandoned within the client timeout. So the effect has landed,
or never will, by the client timeout after the later of: the moment the worker that marked it gave up on it,
and, for a job taken over from a worker that died or lost it mid-step, the moment that worker would have given
up on a request sent just before its lease ended (that end plus the client timeout).
"""

from __future__ import annotations

import contextvars
import logging
import random
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Any

from connector.documents.selection import PdfLimits
from connector.engine.planner import plan_request
from connector.engine.receipt_record import (
    RECEIPT_OUTCOMES,
    reported_signers,
    returned_files,
    sent_documents,
    sent_signers,
)
from connector.engine.reminders import connector_reminders
from connector.ports.call_priority import background_calls
from connector.ports.crm import CRM, CRMError, Writeback
from connector.ports.errors import ConnectorError, ErrorKind, PreparationError
from connector.ports.log_context import log_context
from connector.ports.observer import NO_OBSERVER, Observer
from connector.ports.provider import (
    ProviderError,
    RequestRef,
    RequestStatus,
    SignedFile,
    SignerDelivery,
    SigningProvider,
    SigningRequestSpec,
    SigningState,
)
from connector.ports.retry import RetryPolicy
from connector.ports.send_deadline import sending_until
from connector.receipts.issuer import ReceiptIssuer
from connector.receipts.timeline import iso
from connector.store import Effect, Job, JobState, LeaseLost, PendingEffect, Reminder, RequestState, Store
from connector.store.codec import opportunity_from_json, opportunity_to_json
from connector.store.timeline import TimelineKind
from connector.triggers.record_fields import fields_needed
from connector.writeback.outcomes import Status, WritebackBuilder
from mappings.models import Rule

log = logging.getLogger(__name__)


# A job's backoff between attempts of a step; the daemon sets attempts and base delay from the settings.
JOB_RETRY = RetryPolicy(attempts=8, base_delay=5.0, cap=3600.0, jitter=0.25)


class _Next(Enum):
    """What a step that failed leads to."""

    REFUSE = "refuse"  # the error is written back to the opportunity; the job ends
    STOP = "stop"      # refuse while nothing is sent yet; once it is, park the job for an administrator
    RETRY = "retry"    # the step again after the backoff: a failed attempt, parked after the last one
    WAIT = "wait"      # the step again when asked (Retry-After): not a failed attempt


_ON_FAILURE = {
    ErrorKind.BAD_INPUT: _Next.REFUSE,
    ErrorKind.CONFIG: _Next.STOP,
    ErrorKind.PERMANENT: _Next.STOP,
    ErrorKind.TRANSIENT: _Next.RETRY,
    ErrorKind.BACKPRESSURE: _Next.WAIT,
}


@dataclass(frozen=True)
class EngineOptions:
    callback_base_url: str
    status_check_interval: timedelta = timedelta(minutes=30)
    retry: RetryPolicy = JOB_RETRY
    lease_seconds: float = 300.0
    pdf_limits: PdfLimits = PdfLimits()
    templates_dir: Path | None = None  # what rules' template paths are relative to: the mapping file's folder
    # A signed file (or the evidence) may be this many times the bytes sent, plus the extra: signing adds to a
    # PDF, so a cap of its own would refuse the signed copy of a document near it.
    signed_download_factor: float = 2.0
    signed_download_extra_bytes: int = 20 * 1024 * 1024
    # How long a request of an effect may still be on its way once nothing more can leave: the client timeout
    # (`create_settle` for the provider, `writeback_settle` for Salesforce). After an interruption the effect is
    # looked for only once that has passed: looking sooner could miss a create or an upload, and make it twice.
    create_settle: timedelta = timedelta(seconds=30)
    writeback_settle: timedelta = timedelta(seconds=30)
    downloads_side_by_side: bool = False

    def download_limit(self, sent_bytes: int | None) -> int:
        """The cap for each signed download; a job from before sizes were kept counts the largest document."""
        sent = sent_bytes if sent_bytes is not None else self.pdf_limits.max_bytes
        return int(sent * self.signed_download_factor) + self.signed_download_extra_bytes


class _PutOff(Exception):  # noqa: N818 - not an error: the step waits (job.next_run_at says until when)
    """The step cannot go on yet; the job is saved as it is and taken up again at its next_run_at."""


class Engine:
    def __init__(self, *, store: Store, crm: CRM, providers: dict[str, SigningProvider],
                 writebacks: WritebackBuilder, options: EngineOptions, clock: Callable[[], datetime],
                 salesforce_wait: Callable[[], timedelta | None] = lambda: None, observer: Observer = NO_OBSERVER,
                 receipts: ReceiptIssuer | None = None):
        self.store = store
        self.observer = observer
        self.receipts = receipts  # None: no receipts at all (a rule's `receipt: true` is then not honoured)
        self.salesforce_wait = salesforce_wait  # see connector.runtime.api_budget
        self.crm = crm
        self.providers = providers
        self.writebacks = writebacks
        self.options = options
        self.clock = clock
        self.worker_id = uuid.uuid4().hex[:12]
        self._held: dict[str, Job] = {}  # the jobs this engine holds a lease on now, by id
        self._held_lock = threading.Lock()
        self._steps = {
            JobState.NEW: self._send,
            JobState.SENT: self._write_sent,
            JobState.AWAITING: self._check_status,
            JobState.COMPLETING: self._complete,
            JobState.CLOSING: self._close,
            JobState.RECEIPT: self._attach_receipt,
            JobState.FAILING: self._write_failure,
            JobState.CANCELLING: self._cancel,
        }

    # --- driving ---------------------------------------------------------------------------

    def run_due(self, limit: int = 20) -> int:
        """Advance every due job once as far as it can go now, one after the other; return how many were
        claimed. The daemon's worker pool (connector.runtime.worker_pool) does the same with many jobs at once."""
        jobs = self.claim(limit)
        for job in jobs:
            self.advance(job, just_claimed=True)
        return len(jobs)

    def claim(self, limit: int) -> list[Job]:
        jobs = self.store.claim_due_jobs(self.worker_id, limit=limit, lease_seconds=self.options.lease_seconds)
        with self._held_lock:
            self._held.update((job.id, job) for job in jobs if job.lease_token)
        return jobs

    def advance(self, job: Job, *, just_claimed: bool = False) -> None:
        """Run the job's steps while it is due. `just_claimed`: its lease is fresh, no need to renew it first."""
        try:
            self._advance(job, just_claimed)
        except LeaseLost:
            log.warning("job %s: claim lost (lease expired); another worker has it", job.id)
        finally:
            with self._held_lock:
                self._held.pop(job.id, None)

    def renew_leases(self) -> int:
        """Extend the lease of every job this engine holds (claimed, waiting for a worker or in a step): while
        this process lives, no other worker takes its jobs, however long a call takes. Returns how many."""
        with self._held_lock:
            held = {job_id: (job, job.lease_token) for job_id, job in self._held.items() if job.lease_token}
        if not held:
            return 0
        until = self.clock() + timedelta(seconds=self.options.lease_seconds)
        renewed = self.store.renew_leases({job_id: token for job_id, (_, token) in held.items()}, until)
        for job_id in renewed:
            held[job_id][0].lease_until = until
        return len(renewed)

    def _advance(self, job: Job, just_claimed: bool) -> None:
        # Each save renews the lease, and fails with LeaseLost once another worker has taken the job.
        if job.lease_token and not just_claimed and not self.store.renew_lease(job, self.options.lease_seconds):
            raise LeaseLost(job.id)
        if job.state.is_terminal or job.next_run_at > self.clock():
            self.store.save_job(job, release=True)
            return
        rule: Rule | None = None  # the rule as it was when the job started: validated once, for all its steps
        while True:
            if job.cancel_reason and job.state in (JobState.NEW, JobState.SENT, JobState.AWAITING):
                job.state = JobState.CANCELLING
            before = job.state
            try:
                if rule is None:
                    rule = Rule.model_validate(job.rule)
                with log_context(job_id=job.id, opportunity_id=job.opportunity_id, rule=job.rule_id,
                                 provider=job.provider, request_id=job.request_id, step=job.state.value):
                    self._steps[job.state](job, rule)
            except LeaseLost:
                raise
            except _PutOff:
                self.store.save_job(job, release=True)
                return
            except Exception as exc:  # noqa: BLE001 - every failure is sorted, none may stop the loop
                with log_context(job_id=job.id, opportunity_id=job.opportunity_id, rule=job.rule_id,
                                 provider=job.provider, request_id=job.request_id, step=job.state.value):
                    self._on_failure(job, exc, rule)
                self.store.save_job(job, release=True)
                return
            job.attempts = 0
            if job.state != before:
                job.note(TimelineKind.STEP, f"{before.value} → {job.state.value}", self.clock())
            if job.state != before and not job.state.is_terminal and job.next_run_at <= self.clock():
                # Straight on to the next step, unsaved: every step saves before its first side effect
                # (pending_effect), and a crash before that resumes from the last save, which is safe.
                continue
            self.store.save_job(job, release=True)
            return

    def _on_failure(self, job: Job, exc: Exception, rule: Rule | None) -> None:
        kind = exc.kind if isinstance(exc, ConnectorError) else ErrorKind.TRANSIENT
        next_move = _ON_FAILURE[kind]
        refuse = next_move is _Next.REFUSE or (next_move is _Next.STOP and job.state == JobState.NEW)
        if refuse and isinstance(exc, ConnectorError):
            self._refuse(job, exc)
            return
        if next_move is not _Next.WAIT:
            job.attempts += 1
        if job.pending_effect and job.request.effect_marked_at is not None:
            # This worker sends nothing more for it: whatever is on its way lands within the client timeout.
            job.request = replace(job.request, effect_marked_at=self.clock())
        if job.state != JobState.FAILING:  # there, last_error is the refusal still to be written to Salesforce
            job.last_error = str(exc) or type(exc).__name__
        retry = self.options.retry
        if next_move is _Next.STOP or retry.exhausted(job.attempts):
            log.error("job %s (opportunity %s) parked in state %s after %d attempt(s): %s",
                      job.id, job.opportunity_id, job.state, job.attempts, job.last_error)
            if isinstance(exc, ProviderError) and rule is not None:
                self._report_parked(job, exc, rule)
            self.observer.job_parked(job.provider, job.state.value, kind.value)
            job.parked_from = job.state.value
            job.state = JobState.PARKED
            job.note(TimelineKind.ERROR, f"parked at step {job.parked_from} after {job.attempts} attempt(s): "
                     f"{job.last_error}", self.clock())
            return
        asked = exc.retry_after if isinstance(exc, ConnectorError) else None
        delay = retry.delay(job.attempts, asked=asked)
        log.warning("job %s (opportunity %s) will retry step %s in %.0fs: %s",
                    job.id, job.opportunity_id, job.state, delay, str(exc) or type(exc).__name__,
                    exc_info=not isinstance(exc, ConnectorError))
        job.next_run_at = self.clock() + timedelta(seconds=delay)
        job.note(TimelineKind.RETRY, f"step {job.state.value} failed (attempt {job.attempts}), next try at "
                 f"{job.next_run_at.isoformat(timespec='seconds')}: {str(exc) or type(exc).__name__}", self.clock())

    def _refuse(self, job: Job, exc: ConnectorError) -> None:
        """Nothing was sent, or the input is bad: the error goes to the opportunity (FAILING), never retried."""
        if isinstance(exc, ProviderError):
            message = f"{self._label(job.provider)}: {exc.message} — {exc.advice}."
        elif isinstance(exc, CRMError):  # reading the opportunity's files failed for good (deleted, no access)
            message = f"Salesforce: {exc.message}"
        else:
            message = exc.message
        log.log(logging.WARNING if exc.kind is ErrorKind.BAD_INPUT else logging.ERROR,
                "job %s (opportunity %s) refused: %s", job.id, job.opportunity_id, message)
        job.last_error, job.state, job.outcome = message, JobState.FAILING, "failed"
        job.next_run_at = self.clock()
        job.note(TimelineKind.ERROR, f"refused before sending: {message}", self.clock())

    # --- steps -----------------------------------------------------------------------------

    def _send(self, job: Job, rule: Rule) -> None:
        if self._waits_for_salesforce_budget(job):
            return
        provider = self._provider(job)
        ref = None
        if job.pending_effect is Effect.CREATE:
            self._wait_until_settled(job, self.options.create_settle)
            ref = provider.find_by_external_id(job.id)
            if ref:
                log.info("job %s: found request %s created before an interruption", job.id, ref.request_id)
                provider.resume(ref)
        if ref is None:
            if job.request.reread_opportunity:
                self._reread_opportunity(job, rule)
            spec = self._build_request(job, rule, provider)
            with self._effect(job, Effect.CREATE):
                try:
                    ref = provider.create(spec)
                except ProviderError as exc:
                    if exc.nothing_sent:  # refused before it was processed: there is nothing to look for
                        self._forget_effect(job)
                    raise
        self._keep_ref(job, ref)
        job.pending_effect = None
        job.sent_at = self.clock()
        job.provider_state = SigningState.SENT.value
        job.state = JobState.SENT
        job.note(TimelineKind.SENT, f"{self._label(job.provider)} request {ref.request_id} created", self.clock())
        self.observer.job_sent(job.provider, self._seconds_since_stage_change(job))
        log.info("job %s: sent %s request %s for opportunity %s",
                 job.id, job.provider, ref.request_id, job.opportunity_id)

    def _reread_opportunity(self, job: Job, rule: Rule) -> None:
        """An operator re-sent this job after fixing its data: send what the opportunity holds now."""
        fresh = self.crm.get_opportunity(job.opportunity_id, fields_needed([rule]))
        if fresh is None:
            raise PreparationError(f"Opportunity {job.opportunity_id} was not found (deleted, or the integration "
                                   "user cannot see it).")
        job.opportunity = opportunity_to_json(fresh)
        self.store.save_opportunity(job)
        job.note(TimelineKind.STATUS, "opportunity read again for the re-send", self.clock())

    def _report_parked(self, job: Job, exc: ProviderError, rule: Rule) -> None:
        """A sent request whose job stops on a provider failure (a signed file too large to take, say) would
        leave the opportunity saying "Sent" for ever: tell the rep on the record. Best effort, and a field
        write only, so repeating it is harmless; the job is parked whether or not it lands."""
        step = {JobState.COMPLETING: "attaching the signed documents"}.get(job.state, f"step {job.state.value}")
        message = (f"{self._label(job.provider)} request {job.request_id or '(not created)'}: {step} failed: "
                   f"{exc.message}. The connector stopped this signing (job {job.id}); an administrator can "
                   f"resume it once the cause is fixed: run_connector.py retry {job.id}")
        try:
            self.crm.apply(self.writebacks.for_rule(rule).failed(opportunity_id=job.opportunity_id, message=message))
        except Exception as write_error:  # noqa: BLE001 - the job is parked and logged either way
            log.error("job %s: could not write the error to opportunity %s: %s", job.id, job.opportunity_id,
                      write_error)

    def _build_request(self, job: Job, rule: Rule, provider: SigningProvider) -> SigningRequestSpec:
        spec, planned = plan_request(
            rule, opportunity_from_json(job.opportunity),
            download=self.crm.download_file, capabilities=provider.capabilities,
            provider_label=provider.display_name, limits=self.options.pdf_limits, external_id=job.id,
            callback_url=f"{self.options.callback_base_url}{provider.callback_path()}",
            templates_dir=self.options.templates_dir,
        )
        # What was sent is kept with the job: the later writebacks name these titles and signers, and the
        # signed downloads are capped relative to its size.
        in_order = sorted(spec.signers, key=lambda s: s.order)
        embedded = [s.email for s in in_order if s.delivery == SignerDelivery.EMBEDDED]
        job.request = RequestState(
            titles=tuple(d.title for d in spec.documents), signers=tuple(s.email for s in spec.signers),
            sent_bytes=sum(d.size for d in spec.documents),
            # One signing-URL field per opportunity: the first embedded signer in signing order gets it.
            embedded_signer=embedded[0] if embedded else None,
            record=job.request.record.but(documents=sent_documents(planned),
                                          signers=sent_signers(rule, in_order)))
        return spec

    def _write_sent(self, job: Job, rule: Rule) -> None:
        if self._waits_for_salesforce_budget(job):
            return
        builder = self.writebacks.for_rule(rule)
        signing_url, problem = self._signing_url(job, builder)
        writeback = builder.sent(
            opportunity_id=job.opportunity_id, request_id=job.request_id or "",
            provider_label=self._label(job.provider), titles=job.request.titles,
            signers=job.request.signers, sent_at=job.sent_at or self.clock(),
            signing_url=signing_url, problem=problem,
        )
        self._apply(job, Effect.WRITEBACK_SENT, writeback)
        job.note(TimelineKind.WRITTEN_BACK, "status Sent written to the opportunity", self.clock())
        job.state = JobState.AWAITING
        self._plan_status_check(job, self._safety_net_time())

    def _check_status(self, job: Job, rule: Rule) -> None:
        # A safety-net check takes at most its share of the provider's rate limit; one a callback woke, any turn.
        with background_calls() if self._is_safety_net_check(job) else nullcontext():
            status = self._provider(job).get_status(self._ref(job))
        job.note(TimelineKind.STATUS, f"status check: {status.state.value}", self.clock())
        if status.state.is_final:
            self._take_outcome(job, status)
        else:
            job.provider_state = status.state.value
            reminder_due = self._remind_if_due(job, rule)
            check_at = self._safety_net_time()
            self._plan_status_check(job, check_at if reminder_due is None else min(check_at, reminder_due))

    def _take_outcome(self, job: Job, status: RequestStatus) -> None:
        """The request ended at the provider: write back what happened."""
        job.provider_state = status.state.value
        job.request = replace(job.request, record=job.request.record.but(
            reported=reported_signers(status), ended_at=iso(self.clock())))
        if status.state == SigningState.COMPLETED:
            job.state = JobState.COMPLETING
            job.request = replace(job.request, completion_seen_at=self.clock())
        else:
            job.state, job.outcome = JobState.CLOSING, status.state.value
            job.decline_reason = status.decline_reason
            job.request = replace(job.request, declined_by=status.declined_by)
        job.next_run_at = self.clock()

    def _safety_net_time(self) -> datetime:
        # Spread the safety-net checks so that many waiting requests don't all ask the provider at once.
        return self.clock() + self.options.status_check_interval * random.uniform(0.8, 1.2)

    def _plan_status_check(self, job: Job, at: datetime) -> None:
        """Check the status at `at` unless an event wakes the job earlier; the planned time is kept so that
        the check can tell whether it is the safety net (background work) or was woken by a callback."""
        job.next_run_at = at
        job.request = replace(job.request, status_check_at=at)

    def _is_safety_net_check(self, job: Job) -> bool:
        planned = job.request.status_check_at
        return planned is not None and job.next_run_at >= planned

    def _remind_if_due(self, job: Job, rule: Rule) -> datetime | None:
        """Send the reminder that is due, if the connector sends this rule's reminders; return the next one's time."""
        provider = self._provider(job)
        plan = connector_reminders(rule, provider.capabilities)
        if plan is None or job.sent_at is None:
            return None
        sent_at = job.sent_at if job.sent_at.tzinfo else job.sent_at.replace(tzinfo=UTC)
        if isinstance(job.pending_effect, Reminder):
            job.pending_effect = None  # interrupted after it was counted: it counts as sent, never sent twice
        sent_so_far = job.request.reminders_sent
        due = plan.next_due(sent_at, sent_so_far)
        if due is None or due > self.clock():
            return due
        job.request = replace(job.request, reminders_sent=sent_so_far + 1)
        try:
            with self._effect(job, Reminder(sent_so_far + 1)):
                provider.send_reminder(self._ref(job))
        except ProviderError as exc:
            job.pending_effect = None
            if exc.nothing_sent:  # refused before it was processed: tried again at the retry
                job.request = replace(job.request, reminders_sent=sent_so_far)
                raise
            # Refused, or perhaps sent (a timeout, a reset): it counts as sent. A missing reminder beats a doubled one.
            log.warning("job %s: reminder %d perhaps not sent: %s", job.id, sent_so_far + 1, exc)
            return plan.next_due(sent_at, sent_so_far + 1)
        job.pending_effect = None
        job.note(TimelineKind.REMINDER, f"reminder {sent_so_far + 1} of {plan.count} sent", self.clock())
        log.info("job %s: reminder %d of %d sent for request %s", job.id, sent_so_far + 1, plan.count, job.request_id)
        return plan.next_due(sent_at, sent_so_far + 1)

    def _complete(self, job: Job, rule: Rule) -> None:
        if self._waits_for_salesforce_budget(job):
            return
        provider, ref = self._provider(job), self._ref(job)
        limit = self.options.download_limit(job.request.sent_bytes)
        signed, evidence = self._download_completed(provider, ref, limit)
        titles = job.request.titles or tuple(f.filename for f in signed)
        completed_at = job.completed_at or self.clock()
        writeback = self.writebacks.for_rule(rule).completed(
            opportunity_id=job.opportunity_id, request_id=job.request_id or "",
            provider_label=self._label(job.provider), titles=titles[: len(signed)],
            signed=[f.blob for f in signed], evidence=evidence.blob, completed_at=completed_at,
        )
        job.completed_at = completed_at
        version_ids = self._apply(job, Effect.WRITEBACK_COMPLETED, writeback)
        job.request = replace(job.request, record=job.request.record.but(
            returned=returned_files(writeback.files, version_ids), written_back_at=iso(self.clock())))
        job.outcome = "completed"
        job.state = JobState.RECEIPT if self._receipt_wanted(rule) else JobState.DONE
        job.note(TimelineKind.COMPLETED, f"{len(signed)} signed file(s) and the evidence attached; status Completed "
                 "written to the opportunity", self.clock())
        seen = job.request.completion_seen_at
        self.observer.job_written_back(job.provider, (self.clock() - seen).total_seconds() if seen else None)
        self.observer.job_finished(job.provider, "completed")
        log.info("job %s: signed documents and evidence attached to opportunity %s", job.id, job.opportunity_id)

    def _download_completed(self, provider: SigningProvider, ref: RequestRef,
                            limit: int) -> tuple[list[SignedFile], SignedFile]:
        """The signed documents and the evidence: reads, so taking them side by side repeats nothing."""
        if not self.options.downloads_side_by_side:
            return provider.download_signed(ref, max_bytes=limit), provider.download_evidence(ref, max_bytes=limit)
        # The evidence on a thread of its own, in this step's context (call priority, deadlines).
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="evidence") as pool:
            evidence = pool.submit(contextvars.copy_context().run, provider.download_evidence, ref, max_bytes=limit)
            signed = provider.download_signed(ref, max_bytes=limit)
            return signed, evidence.result()

    def _close(self, job: Job, rule: Rule) -> None:
        if self._waits_for_salesforce_budget(job):
            return
        common: dict[str, Any] = {"opportunity_id": job.opportunity_id, "request_id": job.request_id or "",
                  "provider_label": self._label(job.provider), "titles": job.request.titles}
        builder = self.writebacks.for_rule(rule)
        if job.outcome == SigningState.DECLINED.value:
            writeback = builder.declined(**common, declined_by=job.request.declined_by, reason=job.decline_reason)
        elif job.outcome == SigningState.EXPIRED.value:
            writeback = builder.ended(**common, status=Status.EXPIRED, explanation=(
                "The signing request expired before everyone signed. Move the opportunity to the stage "
                "again to send a new request."))
        elif job.outcome == SigningState.CANCELLED.value:
            # Cancelled because the rep moved the deal to a cancel_on stage: keep the stage they chose.
            writeback = builder.ended(**common, status=Status.CANCELLED, move_stage=not job.cancel_reason,
                                      explanation=job.cancel_reason or "The signing request was cancelled at the "
                                      "provider.")
        else:
            writeback = builder.ended(**common, status=Status.ERROR, explanation=(
                f"{common['provider_label']} reported that the request failed."))
        self._apply(job, Effect.WRITEBACK_CLOSED, writeback)
        job.request = replace(job.request, record=job.request.record.but(written_back_at=iso(self.clock())))
        receipt = self._receipt_wanted(rule) and job.outcome in RECEIPT_OUTCOMES
        job.state = JobState.RECEIPT if receipt else JobState.DONE
        job.note(TimelineKind.WRITTEN_BACK, f"outcome {job.outcome} written to the opportunity", self.clock())
        self.observer.job_finished(job.provider, job.outcome or "ended")
        log.info("job %s: request %s ended as %s", job.id, job.request_id, job.outcome)

    def _attach_receipt(self, job: Job, rule: Rule) -> None:
        """Issue the signing receipt (sealed at the chain's head, once: a repeat finds it issued) and attach its
        two Files exactly once, as every other write: marked, then looked for by checksum after an interruption."""
        if self._waits_for_salesforce_budget(job):
            return
        assert self.receipts is not None  # a job reaches RECEIPT only when receipts are on
        issued = self.receipts.issued(job)
        if issued is None:
            self._find_returned_versions(job)
            issued = self.receipts.issue(job, rule, self._label(job.provider))
        files = self.receipts.files(job, issued)
        if files is not None:
            self._apply(job, Effect.WRITEBACK_RECEIPT, Writeback(opportunity_id=job.opportunity_id, files=files))
            try:
                self.store.receipts.attached(job.id)
            except Exception as exc:  # noqa: BLE001 - the Files are attached: a failure here must not attach
                # them again (the mark is gone), it only leaves the bytes in the database a while longer
                log.warning("job %s: receipt attached; its copy in the database is kept: %s", job.id, exc)
        job.state = JobState.DONE
        log.info("job %s: receipt %d attached to opportunity %s", job.id, issued.sequence, job.opportunity_id)

    def _receipt_wanted(self, rule: Rule) -> bool:
        return self.receipts is not None and rule.receipt

    def _find_returned_versions(self, job: Job) -> None:
        """The ContentVersion ids of returned files whose upload reply was lost (attached before a crash), or that a
        CRM did not report: found by checksum, one query."""
        record = job.request.record
        unknown = [f.md5 for f in record.returned if f.content_version_id is None]
        if not unknown:
            return
        found = self.crm.file_versions(job.opportunity_id, unknown)
        returned = tuple(replace(f, content_version_id=f.content_version_id or found.get(f.md5))
                         for f in record.returned)
        job.request = replace(job.request, record=record.but(returned=returned))

    def _cancel(self, job: Job, rule: Rule) -> None:
        provider = self._provider(job)
        if job.request.request_id is None:
            if job.pending_effect is Effect.CREATE:
                self._wait_until_settled(job, self.options.create_settle)
            found = provider.find_by_external_id(job.id) if job.pending_effect is Effect.CREATE else None
            if found is None:
                log.info("job %s cancelled before anything was sent: %s", job.id, job.cancel_reason)
                job.note(TimelineKind.CANCEL, "cancelled before anything was sent", self.clock())
                job.state, job.outcome, job.pending_effect = JobState.DONE, "cancelled", None
                self.observer.job_finished(job.provider, "cancelled")
                return
            self._keep_ref(job, found)
        ref = self._ref(job)
        job.pending_effect = None
        status = provider.get_status(ref)
        if not status.state.is_final:
            try:
                provider.cancel(ref)
            except ProviderError as exc:
                if exc.retriable:
                    raise
                status = provider.get_status(ref)  # did it end meanwhile?
                if not status.state.is_final:
                    raise
            else:
                status = RequestStatus(state=SigningState.CANCELLED)
        if status.state != SigningState.CANCELLED:
            # It ended before the cancel reached it (its callback lost or late): what happened is what is written
            # back, the signed documents included.
            log.info("job %s: request %s had already ended as %s; not cancelled", job.id, job.request_id,
                     status.state.value)
            self._take_outcome(job, status)
            return
        job.state, job.outcome = JobState.CLOSING, "cancelled"
        job.next_run_at = self.clock()
        job.note(TimelineKind.CANCEL, f"request {job.request_id} cancelled at the provider", self.clock())
        log.info("job %s: request %s cancelled: %s", job.id, job.request_id, job.cancel_reason)

    def _write_failure(self, job: Job, rule: Rule) -> None:
        if self._waits_for_salesforce_budget(job):
            return
        writeback = self.writebacks.for_rule(rule).failed(opportunity_id=job.opportunity_id,
                                                          message=job.last_error or "")
        self._apply(job, Effect.WRITEBACK_FAILED, writeback)
        job.state, job.outcome = JobState.DONE, job.outcome or "failed"
        job.note(TimelineKind.WRITTEN_BACK, "status Error and the reason written to the opportunity", self.clock())
        self.observer.job_finished(job.provider, job.outcome)

    # --- helpers ---------------------------------------------------------------------------

    def _signing_url(self, job: Job, builder: WritebackBuilder) -> tuple[str | None, str | None]:
        """(link, problem): the embedded signer's signing link, asked of the provider (a read, so safe to
        repeat after a crash). A lasting refusal does not hold up the request: "Sent" is written with
        the problem in the last-error field instead."""
        email = job.request.embedded_signer
        if not email or not builder.field_names.get("signing_url"):
            return None, None
        try:
            return self._provider(job).signing_url(self._ref(job), email), None
        except ProviderError as exc:
            if exc.retriable:
                raise
            log.error("job %s: no signing link for the embedded signer: %s", job.id, exc)
            return None, (f"{self._label(job.provider)} gave no signing link for {email}: {exc.message}. "
                          f"Open request {job.request_id} at {self._label(job.provider)} to get the link.")

    @contextmanager
    def _effect(self, job: Job, effect: PendingEffect) -> Iterator[None]:
        """Mark `effect` on the job and commit, then let its write requests leave while the job's lease lasts."""
        job.pending_effect = effect
        job.request = replace(job.request, effect_marked_at=self.clock())
        self._save(job)
        if job.lease_token is None:  # advanced without a claim (tests): nobody else can take it over
            yield
            return
        # A margin for the clocks of replicas that disagree a little about when the lease ends.
        margin = timedelta(seconds=self.options.lease_seconds / 6)
        with sending_until(lambda: (job.lease_until or datetime.min.replace(tzinfo=UTC)) - margin, self.clock):
            yield

    def _forget_effect(self, job: Job) -> None:
        job.pending_effect = None
        self._unmark_time(job)

    def _unmark_time(self, job: Job) -> None:
        """The effect may have happened in part (look before repeating it), but nothing of it is on its way."""
        job.request = replace(job.request, effect_marked_at=None)

    def _wait_until_settled(self, job: Job, settle: timedelta) -> None:
        """Put the step off (_PutOff) while the effect marked on the job may still be on its way: sent by a
        process that died, or by one whose call outlived its lease. Looking sooner could miss it."""
        marked = job.request.effect_marked_at
        last_sent = [marked] if marked else []
        if job.taken_over_at is not None:  # sent by the old lease's end, given up on a client timeout later
            last_sent.append(job.taken_over_at + settle)
        if not last_sent:  # nothing on its way (or marked by a version that did not keep the time)
            return
        settled_at = max(last_sent) + settle
        if self.clock() >= settled_at:
            return
        job.next_run_at = settled_at
        log.info("job %s: %s may still be on its way; looking for it at %s",
                 job.id, job.pending_effect, settled_at.isoformat(timespec="seconds"))
        raise _PutOff

    def _waits_for_salesforce_budget(self, job: Job) -> bool:
        """Over the Salesforce API budget, a step that calls Salesforce is put off; the job keeps its state."""
        wait = self.salesforce_wait()
        if wait is None:
            return False
        job.next_run_at = self.clock() + wait
        log.info("job %s: step %s waits %.0fs: Salesforce API usage is over the connector's budget",
                 job.id, job.state, wait.total_seconds())
        return True

    def _apply(self, job: Job, effect: Effect, writeback: Writeback) -> dict[str, str]:
        """Write `writeback` exactly once; returns the ContentVersion ids of the Files written now, by checksum
        (none for Files an interrupted attempt attached, nor when the CRM does not say)."""
        if job.pending_effect == effect:
            self._wait_until_settled(job, self.options.writeback_settle)
            writeback = self.crm.missing_parts(writeback)
        with self._effect(job, effect):
            try:
                result = self.crm.apply(writeback)
            except CRMError as exc:
                if exc.backpressure:  # refused before it was processed: nothing is on its way, no need to wait
                    self._unmark_time(job)
                raise
        self._forget_effect(job)
        ids = result.file_version_ids
        return {f.checksum: v for f, v in zip(writeback.files, ids, strict=True)} if len(ids) == len(writeback.files) \
            else {}

    def _save(self, job: Job) -> None:
        """Commit the job before a side effect; this also renews the lease (LeaseLost once it was taken)."""
        self.store.save_job(job, lease_seconds=self.options.lease_seconds)

    def _seconds_since_stage_change(self, job: Job) -> float | None:
        entered = opportunity_from_json(job.opportunity).stage_changed_at or job.created_at
        if entered is None:
            return None
        entered = entered if entered.tzinfo else entered.replace(tzinfo=UTC)
        return (self.clock() - entered).total_seconds()

    def _provider(self, job: Job) -> SigningProvider:
        provider = self.providers.get(job.provider)
        if provider is None:
            raise PreparationError(
                f"Provider {job.provider!r} is not configured. Set its credentials in the connector settings."
            )
        return provider

    def _label(self, name: str) -> str:
        provider = self.providers.get(name)
        return provider.display_name if provider else name

    def _ref(self, job: Job) -> RequestRef:
        request = job.request
        if request.provider is None or request.request_id is None:
            raise LookupError(f"job {job.id} has no request at the provider")
        return RequestRef(provider=request.provider, request_id=request.request_id, details=request.details)

    @staticmethod
    def _keep_ref(job: Job, ref: RequestRef) -> None:
        job.request_id = ref.request_id
        job.request = replace(job.request, provider=ref.provider, request_id=ref.request_id, details=dict(ref.details))
