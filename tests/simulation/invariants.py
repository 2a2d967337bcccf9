"""The exactly-once invariants, checked on what a run left behind once everything has settled.

1. At most one provider request per job (per opportunity, rule and stage entry): the job id is the external id.
2. At most one of each File (title + checksum) and each Task (subject) per opportunity.
3. Every request that ended is written back with its outcome: a completed one with every signed document and the
   evidence attached and the status Completed; a declined / expired / cancelled one with that status.
4. No job left stuck (every job ends, since every request in a scenario ends) and none parked without a reason.
5. Nothing acted on without a status confirmation: checked as it happens by the simulated ports (see Witness).
6. Connector-sent reminders: at most the rule's count per request, and never two within one interval.
7. One receipt per ended signing (its JSON and its PDF, once each), and the receipts one unbroken chain: numbered
   from 1 without a gap, each naming the hash of the one before, each seal valid, the head where the last is.

Each function returns the problems it found and how many individual checks it made.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from connector.documents.selection import RECEIPT_SUFFIX
from connector.ports.provider import SigningState
from connector.receipts.verify import verify_receipt
from connector.store import Job, JobState
from connector.writeback.outcomes import Status
from tests.simulation.sim_crm import STATUS_FIELD, SimCRM
from tests.simulation.sim_provider import SimProvider
from tests.simulation.witness import Witness

_STATUS_FOR = {SigningState.COMPLETED: Status.COMPLETED, SigningState.DECLINED: Status.DECLINED,
               SigningState.EXPIRED: Status.EXPIRED, SigningState.CANCELLED: Status.CANCELLED}
SIGNED_SUFFIX, EVIDENCE_SUFFIX = " - signed", " - evidence"


@dataclass
class Checked:
    problems: list[str]
    checks: int = 0

    def expect(self, ok: bool, problem: str) -> None:
        self.checks += 1
        if not ok:
            self.problems.append(problem)


def one_request_per_job(jobs: list[Job], provider: SimProvider) -> Checked:
    result = Checked([])
    known = {job.id for job in jobs}
    sent = Counter(request.spec.external_id for request in provider.requests.values())
    for external_id, count in sorted(sent.items()):
        result.expect(count == 1, f"{count} provider requests for job {external_id[:8]}")
        result.expect(external_id in known, f"a provider request for {external_id[:8]}, which is no job")
    return result


def no_duplicate_files_or_tasks(crm: SimCRM) -> Checked:
    result = Checked([])
    for opportunity_id, files in sorted(crm.attached.items()):
        for (title, _), count in sorted(Counter((f.title, f.checksum) for f in files).items()):
            result.expect(count == 1, f"File {title!r} attached {count} times to {opportunity_id}")
    for opportunity_id, subjects in sorted(crm.tasks.items()):
        for subject, count in sorted(Counter(subjects).items()):
            result.expect(count == 1, f"Task {subject!r} logged {count} times on {opportunity_id}")
    return result


def ended_requests_written_back(jobs: list[Job], provider: SimProvider, crm: SimCRM) -> Checked:
    result = Checked([])
    for job in jobs:
        requests = [r for r in provider.requests.values() if r.spec.external_id == job.id]
        if not requests or job.state == JobState.PARKED:
            continue  # nothing sent; or parked, which invariant 4 requires to say why
        state = requests[0].status.state
        if not state.is_final:
            continue
        label = f"job {job.id[:8]} on {job.opportunity_id} (request {state})"
        result.expect(job.outcome == state.value, f"{label} ended with outcome {job.outcome!r}")
        status = crm.fields.get(job.opportunity_id, {}).get(STATUS_FIELD)
        result.expect(status == _STATUS_FOR[state], f"{label}: the opportunity says {status!r}")
        if state == SigningState.COMPLETED:
            titles = job.request.titles
            attached = {f.title for f in crm.attached.get(job.opportunity_id, [])}
            wanted = [f"{t}{SIGNED_SUFFIX}" for t in titles] + [f"{titles[0]}{EVIDENCE_SUFFIX}" if titles else "?"]
            for title in wanted:
                result.expect(title in attached, f"{label}: File {title!r} missing")
    return result


def no_job_stuck(jobs: list[Job]) -> Checked:
    result = Checked([])
    for job in jobs:
        label = f"job {job.id[:8]} on {job.opportunity_id}"
        result.expect(job.state.is_terminal, f"{label} stuck in {job.state} (next run {job.next_run_at}, "
                                             f"pending {job.pending_effect}, last error {job.last_error!r})")
        if job.state == JobState.PARKED:
            result.expect(bool(job.last_error), f"{label} parked without a reason")
        if job.state == JobState.DONE:
            result.expect(bool(job.outcome), f"{label} done without an outcome")
    return result


def confirmed_before_acting(witness: Witness) -> Checked:
    return Checked(list(witness.violations), witness.checks)


def reminders_at_most_once(provider: SimProvider, count: int | None, interval: timedelta) -> Checked:
    result = Checked([])
    by_request: dict[str, list] = {}
    for request_id, at in provider.reminder_times:
        by_request.setdefault(request_id, []).append(at)
    for request_id, times in sorted(by_request.items()):
        result.expect(count is not None and len(times) <= count,
                      f"{len(times)} reminders sent for {request_id} (rule: {count})")
        for earlier, later in zip(times, times[1:], strict=False):
            result.expect(later - earlier >= interval * 0.9,
                          f"two reminders for {request_id} {later - earlier} apart")
    return result


def one_receipt_per_ended_signing_chain_unbroken(jobs: list[Job], crm: SimCRM, head: tuple[int, str | None]) -> Checked:
    result = Checked([])
    receipts: dict[int, bytes] = {}
    for opportunity_id, files in sorted(crm.attached.items()):
        kept = [f for f in files if f.title.endswith(RECEIPT_SUFFIX)]
        for receipt in (f for f in kept if f.filename.endswith(".json")):
            sequence = json.loads(receipt.content)["sequence"]
            result.expect(sequence not in receipts, f"receipt {sequence} attached twice (on {opportunity_id})")
            receipts[sequence] = receipt.content
    by_job = Counter(json.loads(body)["job_id"] for body in receipts.values())
    for job in jobs:
        ended = job.state == JobState.DONE and job.request_id and job.outcome in (
            "completed", "declined", "expired", "cancelled")
        if ended:
            result.expect(by_job[job.id] == 1, f"job {job.id[:8]} ({job.outcome}) has {by_job[job.id]} receipts")
            pdfs = [f for f in crm.attached.get(job.opportunity_id, [])
                    if f.title.endswith(RECEIPT_SUFFIX) and f.filename.endswith(".pdf")]
            result.expect(len(pdfs) >= 1, f"job {job.id[:8]}: the receipt's PDF is missing")
    result.expect(sorted(receipts) == list(range(1, len(receipts) + 1)),
                  f"receipts attached are numbered {sorted(receipts)}: a gap in the chain")
    previous = None
    for sequence in sorted(receipts):
        body = receipts[sequence]
        result.expect(all(check.ok for check in verify_receipt(body)), f"receipt {sequence}: seal broken")
        result.expect(json.loads(body)["previous_receipt_sha256"] == previous,
                      f"receipt {sequence} does not name receipt {sequence - 1}'s hash")
        previous = hashlib.sha256(body).hexdigest()
    result.expect(head == (len(receipts), previous), f"the chain's head {head} is not the last receipt attached "
                                                     f"({len(receipts)}, {previous})")
    return result


def check_all(*, jobs: list[Job], provider: SimProvider, crm: SimCRM, witness: Witness,
              reminder_count: int | None, reminder_interval: timedelta,
              receipt_head: tuple[int, str | None] = (0, None)) -> Checked:
    parts: Iterable[Checked] = (
        one_receipt_per_ended_signing_chain_unbroken(jobs, crm, receipt_head),
        one_request_per_job(jobs, provider),
        no_duplicate_files_or_tasks(crm),
        ended_requests_written_back(jobs, provider, crm),
        no_job_stuck(jobs),
        confirmed_before_acting(witness),
        reminders_at_most_once(provider, reminder_count, reminder_interval),
    )
    total = Checked([])
    for part in parts:
        total.problems += part.problems
        total.checks += part.checks
    return total
