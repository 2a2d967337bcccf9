"""The connector's own timeline of one signing, as the receipt reports it: built from what the store holds.

`connector_timeline` is the only place that reads it; a per-job timeline table would replace its body alone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from connector.store import Job, Store
from connector.store.timeline import TimelineEntry, TimelineKind


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# The job timeline's kinds a receipt reports, by the receipt's own names (receipt.schema.json); the operator's
# entries (steps, retries, errors, reminders, resumes) stay on the admin page.
_RECEIPT_EVENTS = {
    TimelineKind.CREATED: "job_created",
    TimelineKind.SENT: "request_sent",
    TimelineKind.CALLBACK: "callback_received",
    TimelineKind.STATUS: "status_checked",
    TimelineKind.WRITTEN_BACK: "written_back",
    TimelineKind.COMPLETED: "written_back",
}


def connector_timeline(store: Store, job: Job) -> list[dict[str, Any]]:
    """Job created, request sent, each callback (its arrival time; only authenticated ones are kept), each status
    check, the outcome learnt and the write-backs, in time order, from the job's timeline (connector.store.timeline).
    A job older than the timeline table gets what its own record says."""
    saved, noted = store.timeline(job.id), list(job.notes)  # and what this step noted, saved with it
    if not saved and not noted:
        return _from_the_record(store, job)
    record = job.request.record
    learnt = [{"at": record.ended_at, "event": "outcome_learnt", "detail": job.outcome or "completed"}] \
        if record.ended_at else []
    entries = [*_reported(saved), *learnt, *_reported(noted)]  # a stable sort keeps this order at equal times
    return sorted(entries, key=lambda entry: entry["at"] or "")


_KINDS = {kind.value for kind in TimelineKind}


def _reported(timeline: list[TimelineEntry]) -> list[dict[str, Any]]:
    entries = []
    for entry in timeline:
        event = _RECEIPT_EVENTS.get(TimelineKind(entry.kind)) if entry.kind in _KINDS else None
        if event is None:
            continue
        item: dict[str, Any] = {"at": iso(entry.at), "event": event, "detail": entry.detail}
        if event == "callback_received":
            item["authenticated"] = True
        entries.append(item)
    return entries


def _from_the_record(store: Store, job: Job) -> list[dict[str, Any]]:
    """Job created, request sent, the callbacks still kept, the outcome learnt and the write-back."""
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
