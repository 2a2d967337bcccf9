"""Carry out trigger decisions in the store: create the jobs they start, ask for the cancels they make."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from connector.store import Store
from connector.store.codec import opportunity_to_json
from connector.triggers.decision import CancelJobs, StartJob

log = logging.getLogger(__name__)


def create_jobs(store: Store, starts: Iterable[StartJob]) -> int:
    """One transaction for all of them; an entry that already has its job is skipped by the store."""
    entries = [dict(entry_key=start.entry_key, rule_id=start.rule.id, rule=start.rule.model_dump(mode="json"),
                    provider=start.rule.provider, opportunity_id=start.opportunity.id,
                    opportunity=opportunity_to_json(start.opportunity)) for start in starts]
    jobs = store.create_jobs(entries) if entries else []
    for job in jobs:
        log.info("job %s created: rule %s, opportunity %s (%s) entered %r", job.id, job.rule_id,
                 job.opportunity_id, job.opportunity.get("name"), job.opportunity.get("stage"))
    return len(jobs)


def request_cancel(store: Store, cancel: CancelJobs) -> bool:
    active = store.active_job_for(cancel.rule.id, cancel.opportunity.id)
    if active is None or active.cancel_reason:
        return False
    if store.request_cancel(active.id, cancel.reason):
        log.info("job %s: opportunity %s moved to %r; cancelling its request", active.id, cancel.opportunity.id,
                 cancel.opportunity.stage)
        return True
    return False
