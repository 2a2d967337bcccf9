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

from connector.ports.crm import CRM, Opportunity
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
    def __init__(self, *, store: Store, crm: CRM, mappings: Callable[[], MappingFile]):
        self.store = store
        self.crm = crm
        self.mappings = mappings

    def take(self, notified: Sequence[Notified]) -> IntakeReport:
        """Handle one message's notifications; returns once their jobs and their Ids are committed. A CRMError
        (or a store error) leaves nothing marked taken: the sender delivers again and the work is redone."""
        taken = self.store.taken_notifications(SOURCE, {n.notification_id for n in notified})
        fresh = [n for n in notified if n.notification_id not in taken]
        if not fresh:
            return IntakeReport(len(notified), 0, 0, 0)
        mapping = self.mappings()
        fields = fields_needed(mapping.rules)
        opportunities: list[Opportunity] = []
        for opportunity_id in dict.fromkeys(n.opportunity_id for n in fresh):
            opportunity = self.crm.get_opportunity(opportunity_id, fields)
            if opportunity is None:
                log.info("outbound message: opportunity %s is gone (deleted, or not visible to the integration "
                         "user); nothing to do", opportunity_id)
                continue
            opportunities.append(opportunity)
        created = act_on_sightings(self.store, mapping, opportunities, watched_since=None)
        self.store.mark_notifications_taken(SOURCE, [n.notification_id for n in fresh])
        log.info("outbound message: %d notification(s), %d new, %d opportunities read, %d new job(s)",
                 len(notified), len(fresh), len(opportunities), created)
        return IntakeReport(len(notified), len(fresh), len(opportunities), created)
