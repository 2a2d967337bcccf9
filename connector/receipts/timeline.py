"""The connector's own timeline of one signing, as the receipt reports it: built from what the store holds.

`connector_timeline` is the only place that reads it; a per-job timeline table would replace its body alone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from connector.store import Job, Store


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def connector_timeline(store: Store, job: Job) -> list[dict[str, Any]]:
    """Job created, request sent, each callback kept (its arrival time; only authenticated ones are kept),
    the outcome learnt and the write-back, in time order. Status checks are not recorded yet."""
    entries: list[dict[str, Any]] = [{"at": iso(job.created_at), "event": "job_created",
                                      "detail": f"opportunity entered {job.opportunity.get('stage')!r}"}]
    if job.sent_at is not None:
        entries.append({"at": iso(job.sent_at), "event": "request_sent", "detail": job.request_id or ""})
    for event in store.job_events(job.id, job.provider, job.request_id):
        entries.append({"at": iso(event.received_at), "event": "callback_received",
                        "detail": event.kind, "authenticated": True})
    record = job.request.record
    if record.ended_at:
        entries.append({"at": record.ended_at, "event": "outcome_learnt", "detail": job.outcome or "completed"})
    if record.written_back_at:
        entries.append({"at": record.written_back_at, "event": "written_back",
                        "detail": "status, files and task on the opportunity"})
    return sorted(entries, key=lambda entry: entry["at"] or "")
