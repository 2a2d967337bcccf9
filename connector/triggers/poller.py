"""Trigger by polling: find opportunities that entered a rule's stage and create one job each.

The poller only fetches; what a sighting starts or cancels is `connector.triggers.decision`'s call,
carried out by `connector.triggers.intake.act_on_sightings`, as for every other trigger source.

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

from connector.ports.crm import CRM
from connector.store import Store
from connector.triggers.intake import act_on_sightings
from connector.triggers.record_fields import fields_needed
from mappings.models import MappingFile

log = logging.getLogger(__name__)
CURSOR_KEY = "poll_cursor"
CHUNK = 50


@dataclass(frozen=True)
class PollReport:
    seen: int
    created: int
    cursor: datetime


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
            newest = max([newest, *(opportunity.system_modstamp for opportunity in chunk)])
            created += act_on_sightings(self.store, mapping, chunk, watched_since=cursor - self.overlap)
            if newest != saved:
                self.store.set_value(CURSOR_KEY, newest.isoformat())
                saved = newest
        if result.opportunities:
            # DEBUG: a busy org would log this every few seconds; the daemon's periodic summary counts the polls.
            log.debug("poll: %d opportunities in trigger stages, %d new job(s)", len(result.opportunities), created)
        return PollReport(seen=len(result.opportunities), created=created, cursor=newest)
