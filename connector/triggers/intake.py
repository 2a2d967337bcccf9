"""Carry out trigger decisions in the store: create the jobs they start, ask for the cancels they make."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime

from connector.ports.crm import Opportunity
from connector.store import RequestState, Store
from connector.store.codec import opportunity_to_json
from connector.store.jobs import LatestJob
from connector.store.signing_record import SigningRecord
from connector.triggers.decision import CancelJobs, StartJob, concerns, decide
from mappings.models import MappingFile

log = logging.getLogger(__name__)


def create_jobs(store: Store, starts: Iterable[StartJob], *, mapping_revision: str | None = None) -> int:
    """One transaction for all of them; an entry that already has its job is skipped by the store.
    `mapping_revision`: the hash of the mapping file the rules came from, kept for the signing receipt."""
    started_from = RequestState(record=SigningRecord(mapping_revision=mapping_revision)).to_json()
    entries = [dict(entry_key=start.entry_key, rule_id=start.rule.id, rule=start.rule.model_dump(mode="json"),
                    provider=start.rule.provider, opportunity_id=start.opportunity.id,
                    opportunity=opportunity_to_json(start.opportunity), request_ref=started_from)
               for start in starts]
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


def act_on_sightings(store: Store, mapping: MappingFile, opportunities: Sequence[Opportunity], *,
                     watched_since: datetime | None) -> int:
    """What every trigger source does with opportunities it has just read: one query for the jobs they already
    have, the trigger decision for each, then the cancels and one transaction for the new jobs. Returns how many
    jobs were created. `watched_since`: an opportunity that entered its stage before then was seen only because
    it was edited (a poll's window); None when the source saw the stage change itself."""
    relevant = [opportunity for opportunity in opportunities if concerns(mapping, opportunity)]
    if not relevant:
        return 0
    latest: dict[str, dict[str, LatestJob]] = {}
    for (rule_id, opportunity_id), job in store.latest_jobs_for({o.id for o in relevant}).items():
        latest.setdefault(opportunity_id, {})[rule_id] = job
    starts: list[StartJob] = []
    for opportunity in relevant:
        entered = opportunity.stage_changed_at
        entered_earlier = bool(watched_since and entered and entered < watched_since)
        decision = decide(mapping, opportunity, latest.get(opportunity.id, {}), entered_earlier=entered_earlier)
        for skipped in decision.not_started:
            log.log(logging.INFO if skipped.notable else logging.DEBUG,
                    "rule %s does not fire for opportunity %s (%s): %s", skipped.rule.id, opportunity.id,
                    opportunity.name, skipped.why)
        for cancel in decision.cancels:
            request_cancel(store, cancel)
        starts += decision.starts
    return create_jobs(store, starts, mapping_revision=mapping.revision)
