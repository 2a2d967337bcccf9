"""Trigger by Salesforce Outbound Message: a record-triggered Flow tells the connector which opportunities
changed stage; the connector reads each of them again and hands them to the same intake as the poller.

The message's own field values are not trusted for the decision: the opportunity is read through the CRM
port exactly as a poll reads it (contact roles, files, owner, the fields the rules need), so its entry key is
the one a poll would compute, and a forged or stale message can at most make the connector read a record.

Exactly once: notification Ids already taken are skipped; the jobs are committed (`act_on_sightings`, one
transaction) before the Ids are marked taken, and both before the endpoint answers Ack. A crash in between
makes Salesforce deliver again; the re-read then finds the jobs by their entry keys and makes nothing new.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from connector.ports.crm import CRM
from connector.ports.observer import NO_OBSERVER, Observer
from connector.store import Store
from connector.triggers.intake import act_on_sightings
from connector.triggers.record_fields import fields_needed
from mappings.models import MappingFile

log = logging.getLogger(__name__)
SOURCE = "salesforce-outbound-message"


@dataclass(frozen=True)
class Notified:
    """One notification: its Id (the same on every redelivery) and the opportunity it is about."""

    notification_id: str
    opportunity_id: str


@dataclass(frozen=True)
class IntakeReport:
    notifications: int
    fresh: int  # not taken before
    read: int  # opportunities read from Salesforce
    created: int  # jobs


class OutboundMessageSource:
    def __init__(self, *, store: Store, crm: CRM, mappings: Callable[[], MappingFile],
                 observer: Observer = NO_OBSERVER, clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self.store = store
        self.crm = crm
        self.mappings = mappings
        self.observer = observer  # hears the push lag: the age of the newest stage change a message brought
        self.clock = clock

    def take(self, notified: Sequence[Notified]) -> IntakeReport:
        """Handle one message's notifications; returns once their jobs and their Ids are committed. A CRMError
        (or a store error) leaves nothing marked taken: the sender delivers again and the work is redone."""
        taken = self.store.taken_notifications(SOURCE, {n.notification_id for n in notified})
        fresh = [n for n in notified if n.notification_id not in taken]
        if not fresh:
            return IntakeReport(len(notified), 0, 0, 0)
        mapping = self.mappings()
        fields = fields_needed(mapping.rules)
        wanted = list(dict.fromkeys(n.opportunity_id for n in fresh))
        opportunities = list(self.crm.get_opportunities(wanted, fields))  # one query for the whole message
        for gone in set(wanted) - {o.id for o in opportunities}:
            log.info("outbound message: opportunity %s is gone (deleted, or not visible to the integration "
                     "user); nothing to do", gone)
        created = act_on_sightings(self.store, mapping, opportunities, watched_since=None)
        self.store.mark_notifications_taken(SOURCE, [n.notification_id for n in fresh])
        if opportunities:
            newest = max(_aware(o.stage_changed_at or o.system_modstamp) for o in opportunities)
            self.observer.push_lag(max(0.0, (self.clock() - newest).total_seconds()))
        log.info("outbound message: %d notification(s), %d new, %d opportunities read, %d new job(s)",
                 len(notified), len(fresh), len(opportunities), created)
        return IntakeReport(len(notified), len(fresh), len(opportunities), created)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
