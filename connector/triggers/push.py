"""Trigger by push: what a batch of Opportunity change events starts and cancels.

The events say which records changed; the opportunities are read again, all of a batch's in one query, with
the fields the poll reads, so that a stage entry has the same entry key whichever source sees it (a job's
entry key is unique: a replayed event, or the poll seeing the same entry, makes nothing new). Only then is the
batch's replay id stored: a crash before that replays the batch, it never skips it.

- A change of StageName, a create or an undelete is a stage entry seen as it happened (`watched_since=None`).
- A gap event (Salesforce lost track of what changed) names records to read again; they are taken like a
  poll's sightings, as edits of records that may have entered their stage before the feed watched.
- An overflow event, or one that could not be read, names no records: a catch-up poll is asked for.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from connector.ports.change_feed import ChangeBatch, ChangeType, RecordChange
from connector.ports.crm import CRM
from connector.ports.observer import NO_OBSERVER, Observer
from connector.store import Store
from connector.triggers.intake import act_on_sightings
from connector.triggers.record_fields import fields_needed
from mappings.models import MappingFile

log = logging.getLogger(__name__)
REPLAY_KEY = "cdc_replay_id"
ENTITY = "Opportunity"
STAGE_FIELD = "StageName"
_ENTRIES = (ChangeType.CREATE, ChangeType.UNDELETE)


@dataclass(frozen=True)
class BatchReport:
    events: int
    read: int
    created: int
    catch_up: bool  # the batch held an event naming no records: only a poll can find what changed


def stored_position(store: Store) -> bytes | None:
    stored = store.get_value(REPLAY_KEY)
    return bytes.fromhex(stored) if stored else None


def forget_position(store: Store) -> None:
    store.set_value(REPLAY_KEY, "")


def _sorted(changes: tuple[RecordChange, ...]) -> tuple[dict[str, None], dict[str, None], bool]:
    """Record Ids whose stage entry the events saw, those to read again, and whether a poll is needed."""
    entered: dict[str, None] = {}
    reread: dict[str, None] = {}
    catch_up = False
    for change in changes:
        if change.entity != ENTITY:
            continue
        if change.change_type is ChangeType.GAP_OVERFLOW or (change.change_type.is_gap and not change.record_ids):
            catch_up = True
        elif change.change_type.is_gap:
            reread.update(dict.fromkeys(change.record_ids))
        elif change.change_type in _ENTRIES or (
                change.change_type is ChangeType.UPDATE and change.changed(STAGE_FIELD)):
            entered.update(dict.fromkeys(change.record_ids))
    return entered, {i: None for i in reread if i not in entered}, catch_up


class ChangeIntake:
    def __init__(self, *, store: Store, crm: CRM, mappings: Callable[[], MappingFile], watching_since: datetime,
                 catch_up: Callable[[], object], observer: Observer = NO_OBSERVER,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self.store = store
        self.observer = observer  # hears the push lag: the age of the newest stage change a batch brought
        self.clock = clock
        self.catch_up = catch_up  # a poll over the recent past: for events that name no records
        self.crm = crm
        self.mappings = mappings
        self.watching_since = watching_since  # when this source began: gap re-reads count as edits after it

    def take(self, batch: ChangeBatch) -> BatchReport:
        mapping = self.mappings()
        entered, reread, catch_up = _sorted(batch.changes)
        created = read = 0
        if entered or reread:
            opportunities = self.crm.get_opportunities([*entered, *reread], fields_needed(mapping.rules))
            read = len(opportunities)
            created += act_on_sightings(self.store, mapping, [o for o in opportunities if o.id in entered],
                                        watched_since=None)
            created += act_on_sightings(self.store, mapping, [o for o in opportunities if o.id in reread],
                                        watched_since=self.watching_since)
            moved = [o for o in opportunities if o.id in entered]
            if moved:
                newest = max(_aware(o.stage_changed_at or o.system_modstamp) for o in moved)
                self.observer.push_lag(max(0.0, (self.clock() - newest).total_seconds()))
        if created:
            log.info("change events: %d opportunities changed stage, %d new job(s)", len(entered), created)
        if catch_up:
            log.warning("change events: Salesforce could not say which records changed (overflow); polling")
            self.catch_up()
        if batch.replay_id:
            self.store.set_value(REPLAY_KEY, batch.replay_id.hex())
        return BatchReport(events=len(batch.changes), read=read, created=created, catch_up=catch_up)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
