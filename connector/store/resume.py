"""An operator's retry of one job, as one UPDATE: the admin page's Retry / Re-send and `run_connector.py retry`.

- A **parked** job (retries used up, or a failure after sending) goes back to the step it stopped at, with
  its attempts reset. What it had marked as on its way stays marked, so the step looks before it repeats.
- A job **refused before sending** (`Error` on the opportunity: not a PDF, no email...) starts its send again
  once the data is fixed: a new attempt of the same stage entry (same job, same external id), which re-reads
  the opportunity first. Its create is marked pending, so the step asks the provider for a request with the
  job's external id before it creates one: a request that went out is never sent a second time. A job whose
  rule and opportunity have a newer job (the deal entered the stage again) is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import cast

from sqlalchemy import Table, case, exists, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import aliased

from connector.store import timeline
from connector.store.job_search import refused_before_sending
from connector.store.models import JobRow
from connector.store.pending_effect import Effect
from connector.store.request_state import RequestState
from connector.store.timeline import TimelineKind

_JOBS = cast(Table, JobRow.__table__)


class ResumeResult(StrEnum):
    RESUMED = "resumed"        # a parked job, back at its step
    RESENT = "resent"          # a refused job, to be sent again
    UNKNOWN = "unknown"        # no job has this id
    NOT_RESUMABLE = "not resumable"


@dataclass(frozen=True)
class Resumed:
    result: ResumeResult
    message: str

    @property
    def ok(self) -> bool:
        return self.result in (ResumeResult.RESUMED, ResumeResult.RESENT)


def is_job_id(text: str) -> bool:
    """Whether `text` can be a job id (what the store makes: 32 hex digits), before any query is made with it."""
    return len(text) == 32 and all(c in "0123456789abcdef" for c in text)


def resume(connection: Connection, job_id: str, *, now: datetime, by: str) -> Resumed:
    if not is_job_id(job_id):
        return _unknown(job_id)
    jobs = _JOBS.c
    row = connection.execute(select(jobs.state, jobs.parked_from, jobs.outcome, jobs.request_id)
                             .where(jobs.id == job_id)).first()
    if row is None:
        return _unknown(job_id)
    parked = update(_JOBS).where(jobs.id == job_id, jobs.state == "parked").values(
        state=case((jobs.parked_from.is_(None), "new"), else_=jobs.parked_from), parked_from=None, attempts=0,
        next_run_at=now, updated_at=now,
        # The error stays in the timeline; in "failing" it is the refusal still to be written to Salesforce.
        last_error=case((jobs.parked_from == "failing", jobs.last_error), else_=None))
    if connection.execute(parked).rowcount:
        step = row.parked_from or "new"
        timeline.write(connection, [timeline.entry(job_id, TimelineKind.RESUMED,
                                                   f"{by} resumed the parked job at step {step}", now)])
        return Resumed(ResumeResult.RESUMED, f"job {job_id} resumed at step {step}")
    newer = aliased(JobRow)
    no_newer_job = ~exists().where(newer.rule_id == JobRow.rule_id, newer.opportunity_id == JobRow.opportunity_id,
                                   newer.created_at > JobRow.created_at)
    again = RequestState(reread_opportunity=True)
    resend = update(JobRow).where(JobRow.id == job_id, refused_before_sending(), no_newer_job).values(
        state="new", outcome=None, last_error=None, attempts=0, next_run_at=now, updated_at=now,
        pending_effect=str(Effect.CREATE), request_ref=again.to_json(), provider_state=None)
    if connection.execute(resend, execution_options={"synchronize_session": False}).rowcount:
        timeline.write(connection, [timeline.entry(job_id, TimelineKind.RESUMED,
                                                   f"{by} re-sent the refused job after a fix", now)])
        return Resumed(ResumeResult.RESENT, f"job {job_id} will re-read its opportunity and send again")
    if row.state == "done" and row.outcome == "failed" and row.request_id is None:
        return Resumed(ResumeResult.NOT_RESUMABLE, f"job {job_id}: the opportunity has a newer job for this rule; "
                                                   "retry that one")
    return Resumed(ResumeResult.NOT_RESUMABLE, f"job {job_id} is {row.state}"
                   f"{' (' + row.outcome + ')' if row.outcome else ''}: only parked jobs and jobs refused "
                   "before sending can be retried")


def _unknown(job_id: str) -> Resumed:
    shown = job_id[:40] if job_id[:40].isprintable() else repr(job_id[:40])
    return Resumed(ResumeResult.UNKNOWN, f"there is no job {shown}")
