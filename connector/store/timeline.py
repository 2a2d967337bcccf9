"""A job's timeline: what happened to it, when, in words an operator reads (the admin page, the receipt).

Entries are written in the transaction that commits what they describe where one exists: a job's creation,
a step's save (`Job.note`, flushed by `Store.save_job`), a callback matched to the job, an operator's retry.
A job keeps its first entry (its creation) and its newest `MAX_PER_JOB` ones (the daemon trims them hourly), so
a job that waits or retries for months keeps its recent history without growing without end.

Kinds (`TimelineKind`), each with a one-line `detail`:
  created        the stage entry made the job (rule, provider, stage, when the opportunity entered it)
  step           the job moved from one state to the next
  sent           the request was created at the provider (its id)
  status         a status check's answer while the request is pending
  callback       a provider callback matched to the job (kind, arrival time; every stored one was authenticated)
  retry          a step failed and will be tried again (when, why)
  error          a step failed for good: refused before sending, or parked
  written_back   a writeback landed on the opportunity (Sent, Completed, Declined, Error...)
  completed      the signing finished and its files are attached
  cancel         a cancel was asked or made
  reminder       a reminder sent by the connector
  resumed        an operator resumed a parked job, or re-sent a refused one (who)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import cast

from sqlalchemy import Table, insert, select, text
from sqlalchemy.engine import Connection

from connector.store.models import TimelineRow

MAX_PER_JOB = 200
MAX_DETAIL = 1000  # characters; longer details (a provider's error body) are cut with an ellipsis
_TIMELINE = cast(Table, TimelineRow.__table__)


class TimelineKind(StrEnum):
    CREATED = "created"
    STEP = "step"
    SENT = "sent"
    STATUS = "status"
    CALLBACK = "callback"
    RETRY = "retry"
    ERROR = "error"
    WRITTEN_BACK = "written_back"
    COMPLETED = "completed"
    CANCEL = "cancel"
    REMINDER = "reminder"
    RESUMED = "resumed"


@dataclass(frozen=True)
class TimelineEntry:
    job_id: str
    at: datetime
    kind: str
    detail: str


def entry(job_id: str, kind: str, detail: str, at: datetime) -> TimelineEntry:
    cut = detail if len(detail) <= MAX_DETAIL else detail[: MAX_DETAIL - 1] + "…"
    return TimelineEntry(job_id=job_id, at=at.astimezone(UTC), kind=str(kind), detail=cut)


def write(connection: Connection, entries: Sequence[TimelineEntry]) -> None:
    """Insert `entries` in the caller's transaction: one statement, whatever their number."""
    if entries:
        connection.execute(insert(_TIMELINE), [
            {"job_id": e.job_id, "at": e.at, "kind": e.kind, "detail": e.detail} for e in entries])


# Trimming is periodic (Store.trim_timelines), so a write is one INSERT: a job gains a few entries an hour at
# most (a status check every 30 minutes, callbacks held to one wake per interval), never hundreds.
TRIM = text(
    "DELETE FROM job_timeline WHERE id IN (SELECT id FROM ("
    " SELECT id, row_number() OVER (PARTITION BY job_id ORDER BY id DESC) AS newest,"
    " min(id) OVER (PARTITION BY job_id) AS first_id FROM job_timeline WHERE job_id IN ("
    "  SELECT job_id FROM job_timeline GROUP BY job_id HAVING count(*) > :keep)) ranked"
    " WHERE newest > :keep AND id <> first_id)")


def read(connection: Connection, job_id: str) -> list[TimelineEntry]:
    rows = _TIMELINE.c
    result = connection.execute(select(rows.job_id, rows.at, rows.kind, rows.detail)
                                .where(rows.job_id == job_id).order_by(rows.id))
    return [TimelineEntry(job_id=r.job_id, at=_utc(r.at), kind=r.kind, detail=r.detail) for r in result]


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
