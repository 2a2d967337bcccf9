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

from connector.codec import opportunity_to_json
from connector.crm import CRM, Opportunity
from connector.filters import mismatch
from connector.record_fields import fields_needed
from connector.store import Store
from mappings.models import MappingFile, Rule

log = logging.getLogger(__name__)
CURSOR_KEY = "poll_cursor"


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
        newest = cursor
        for index, opportunity in enumerate(result.opportunities, start=1):
            newest = max(newest, opportunity.system_modstamp)
            if index % 50 == 0:  # rows come oldest first: a crash mid-poll resumes from here, not from scratch
                self.store.set_value(CURSOR_KEY, newest.isoformat())
            # Edited while sitting in the stage, which it entered before our window.
            entered = opportunity.stage_changed_at
            entered_earlier = bool(entered and entered < cursor - self.overlap)
            for rule in mapping.rules_for_stage(opportunity.stage):
                if entered_earlier and rule.trigger.on_entry_only:
                    continue
                reason = mismatch(rule.trigger.filter, opportunity)
                if reason:
                    log.debug("rule %s does not fire for opportunity %s (%s): %s", rule.id, opportunity.id,
                              opportunity.name, reason)
                    continue
                created += self._create_job(rule, opportunity)
            for rule in mapping.rules_cancelled_by(opportunity.stage) if not entered_earlier else ():
                self._cancel_job(rule, opportunity)
        if newest != cursor:
            self.store.set_value(CURSOR_KEY, newest.isoformat())
        if result.opportunities:
            log.info("poll: %d opportunities in trigger stages, %d new job(s)", len(result.opportunities), created)
        return PollReport(seen=len(result.opportunities), created=created, cursor=newest)

    def _cancel_job(self, rule: Rule, opportunity: Opportunity) -> None:
        active = self.store.active_job_for(rule.id, opportunity.id)
        if active is None or active.cancel_reason:
            return
        reason = (f"Cancelled because the opportunity moved to stage {opportunity.stage!r} "
                  f"(rule {rule.id}, cancel_on).")
        if self.store.request_cancel(active.id, reason):
            log.info("job %s: opportunity %s moved to %r; cancelling its request", active.id, opportunity.id,
                     opportunity.stage)

    def _create_job(self, rule: Rule, opportunity: Opportunity) -> int:
        key = entry_key(rule, opportunity)
        latest = self.store.latest_job_for(rule.id, opportunity.id)
        if latest and latest.entry_key != key:
            if not latest.state.is_terminal:
                log.info("opportunity %s re-entered stage %r while job %s is still open; not sending again",
                         opportunity.id, opportunity.stage, latest.id)
                return 0
            if latest.outcome not in rule.retrigger_after:
                log.info("opportunity %s re-entered stage %r; rule %s's last request ended %s, which its "
                         "retrigger_after does not list; not sending again", opportunity.id, opportunity.stage,
                         rule.id, latest.outcome or latest.state.value)
                return 0
        job = self.store.create_job(
            entry_key=key, rule_id=rule.id, rule=rule.model_dump(mode="json"),
            provider=rule.provider, opportunity_id=opportunity.id, opportunity=opportunity_to_json(opportunity),
        )
        if job:
            log.info("job %s created: rule %s, opportunity %s (%s) entered %r",
                     job.id, rule.id, opportunity.id, opportunity.name, opportunity.stage)
        return 1 if job else 0
