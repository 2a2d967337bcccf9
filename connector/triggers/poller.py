"""Trigger by polling: find opportunities that entered a rule's stage and create one job each.

One SOQL query per poll (paged) brings the opportunities with their contact roles, owner and
files, and the fields the rules' filters and merge fields need. The cursor is the newest
SystemModstamp seen; each poll re-reads an overlap window before it, because records can
commit late with an earlier stamp. Re-read records are harmless: a job's entry key (rule,
opportunity, time it entered the stage) is unique.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from connector.ports.crm import CRM, Opportunity
from connector.store import Store
from connector.store.codec import opportunity_to_json
from connector.store.jobs import LatestJob
from connector.triggers.filters import mismatch
from connector.triggers.record_fields import fields_needed
from mappings.models import MappingFile, Rule

log = logging.getLogger(__name__)
CURSOR_KEY = "poll_cursor"
CHUNK = 50


@dataclass(frozen=True)
class PollReport:
    seen: int
    created: int
    cursor: datetime


def entry_key(rule: Rule, opportunity: Opportunity) -> str:
    entered = opportunity.stage_changed_at or opportunity.system_modstamp
    return f"{rule.id}:{opportunity.id}:{opportunity.stage}:{entered.isoformat()}"


class Poller:
    def __init__(self, *, store: Store, crm: CRM, mappings: Callable[[], MappingFile],
                 clock: Callable[[], datetime], overlap: timedelta, initial_lookback: timedelta):
        self.store = store
        self.crm = crm
        self.mappings = mappings
        self.clock = clock
        self.overlap = overlap
        self.initial_lookback = initial_lookback

    def _cursor(self) -> datetime:
        stored = self.store.get_value(CURSOR_KEY)
        return datetime.fromisoformat(stored) if stored else self.clock() - self.initial_lookback

    def poll_once(self) -> PollReport:
        mapping = self.mappings()
        cursor = self._cursor()
        result = self.crm.poll_opportunities(mapping.stages(), cursor - self.overlap, fields_needed(mapping.rules))
        created = 0
        newest = saved = cursor
        # Rows come oldest first. They are taken CHUNK at a time: one query for the jobs they already have,
        # one transaction for the new ones, then the cursor, so a crash mid-poll resumes from there.
        for start in range(0, len(result.opportunities), CHUNK):
            chunk = result.opportunities[start:start + CHUNK]
            candidates: list[tuple[Rule, Opportunity]] = []
            for opportunity in chunk:
                newest = max(newest, opportunity.system_modstamp)
                # Edited while sitting in the stage, which it entered before our window.
                entered = opportunity.stage_changed_at
                entered_earlier = bool(entered and entered < cursor - self.overlap)
                firing = self._rules_firing(mapping, opportunity, entered_earlier)
                candidates += [(rule, opportunity) for rule in firing]
                for rule in mapping.rules_cancelled_by(opportunity.stage) if not entered_earlier else ():
                    self._cancel_job(rule, opportunity)
            latest = self.store.latest_jobs_for({opportunity.id for _, opportunity in candidates})
            entries = [entry for rule, opportunity in candidates
                       if (entry := self._job_entry(rule, opportunity, latest.get((rule.id, opportunity.id))))]
            created += self._create_jobs(entries)
            if newest != saved:
                self.store.set_value(CURSOR_KEY, newest.isoformat())
                saved = newest
        if result.opportunities:
            log.info("poll: %d opportunities in trigger stages, %d new job(s)", len(result.opportunities), created)
        return PollReport(seen=len(result.opportunities), created=created, cursor=newest)

    @staticmethod
    def _rules_firing(mapping: MappingFile, opportunity: Opportunity, entered_earlier: bool) -> list[Rule]:
        rules = []
        for rule in mapping.rules_for_stage(opportunity.stage):
            if entered_earlier and rule.trigger.on_entry_only:
                continue
            reason = mismatch(rule.trigger.filter, opportunity)
            if reason:
                log.debug("rule %s does not fire for opportunity %s (%s): %s", rule.id, opportunity.id,
                          opportunity.name, reason)
                continue
            rules.append(rule)
        return rules

    def _cancel_job(self, rule: Rule, opportunity: Opportunity) -> None:
        active = self.store.active_job_for(rule.id, opportunity.id)
        if active is None or active.cancel_reason:
            return
        reason = (f"Cancelled because the opportunity moved to stage {opportunity.stage!r} "
                  f"(rule {rule.id}, cancel_on).")
        if self.store.request_cancel(active.id, reason):
            log.info("job %s: opportunity %s moved to %r; cancelling its request", active.id, opportunity.id,
                     opportunity.stage)

    @staticmethod
    def _job_entry(rule: Rule, opportunity: Opportunity, latest: LatestJob | None) -> dict | None:
        """The job to create for this stage entry, or None when it has one or the rule must not send again."""
        key = entry_key(rule, opportunity)
        if latest and latest.entry_key == key:
            return None  # seen by an earlier poll (the overlap window reads rows again)
        if latest:
            if not latest.state.is_terminal:
                log.info("opportunity %s re-entered stage %r while job %s is still open; not sending again",
                         opportunity.id, opportunity.stage, latest.id)
                return None
            if latest.outcome not in rule.retrigger_after:
                log.info("opportunity %s re-entered stage %r; rule %s's last request ended %s, which its "
                         "retrigger_after does not list; not sending again", opportunity.id, opportunity.stage,
                         rule.id, latest.outcome or latest.state.value)
                return None
        return dict(entry_key=key, rule_id=rule.id, rule=rule.model_dump(mode="json"), provider=rule.provider,
                    opportunity_id=opportunity.id, opportunity=opportunity_to_json(opportunity))

    def _create_jobs(self, entries: list[dict]) -> int:
        jobs = self.store.create_jobs(entries)
        for job in jobs:
            log.info("job %s created: rule %s, opportunity %s (%s) entered %r", job.id, job.rule_id,
                     job.opportunity_id, job.opportunity.get("name"), job.opportunity.get("stage"))
        return len(jobs)
