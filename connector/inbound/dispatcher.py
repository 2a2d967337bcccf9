"""Match recorded webhook events to jobs and wake those jobs.

The event itself is only a hint: the woken job asks the provider for the request's state. However many events
come for a job, they wake it at most once per `wake_interval`; one held back wakes it when the interval ends.
An event for a request we do not know may have raced ahead of the job's commit, so it is kept
for a grace period before it is set aside as an orphan.

Each dispatch looks at the events recorded since the last one: one query finds the jobs they
concern, one transaction wakes those jobs and marks the events. Events still waiting for their job
are looked at again at each dispatch while they are few (an event racing its job's commit), and all
of them every `recheck_every`, together, in the same few queries.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from connector.store import Store
from connector.store.models import EventRow

log = logging.getLogger(__name__)

_ORPHANS_LOGGED = 20  # one line each, per sweep; beyond that a count, so a flood cannot flood the log


class EventDispatcher:
    def __init__(self, *, store: Store, clock: Callable[[], datetime], orphan_grace: timedelta,
                 recheck_every: timedelta = timedelta(seconds=2), page: int = 2000, max_waiting: int = 200,
                 wake_interval: timedelta = timedelta(0)):
        self.store = store
        self.clock = clock
        self.orphan_grace = orphan_grace
        self.wake_interval = wake_interval  # events wake a job at most once per interval (Store.settle_events)
        self.recheck_every = recheck_every
        self.page = page  # event row ids per sweep
        self.max_waiting = max_waiting
        self._seen = 0  # events up to this row id have been looked at once
        self._waiting: set[int] = set()  # seen unmatched since the last recheck; looked at again at each dispatch
        self._rechecked_at: datetime | None = None
        self._lock = threading.Lock()

    def dispatch(self) -> int:
        """Match or set aside what can be; returns how many events that was."""
        with self._lock:
            now = self.clock()
            handled = 0
            if self._rechecked_at is None or now - self._rechecked_at >= self.recheck_every:
                self._rechecked_at = now
                self._waiting.clear()
                handled += self._sweep(now, up_to_id=self._seen, set_aside=True)
            elif self._waiting:
                handled += self._sweep(now, ids=self._waiting, set_aside=False)
            latest = self.store.last_event_id()
            # New events are set aside at the next recheck, unless the grace period is shorter than that.
            set_aside_now = self.orphan_grace < self.recheck_every
            while self._seen < latest:
                up_to = min(latest, self._seen + self.page)
                handled += self._sweep(now, after_id=self._seen, up_to_id=up_to, set_aside=set_aside_now, note=True)
                self._seen = up_to
            if len(self._waiting) > self.max_waiting:
                self._waiting.clear()  # a flood of unknown requests: leave them to the periodic recheck
            return handled

    def _sweep(self, now: datetime, *, after_id: int = 0, up_to_id: int | None = None, ids: set[int] | None = None,
               set_aside: bool, note: bool = False) -> int:
        """Unprocessed events with row ids in (after_id, up_to_id] or in `ids`: match them, set aside those past
        the grace period when `set_aside`, and `note` the others as waiting for their job."""
        if up_to_id is not None and up_to_id <= after_id:
            return 0
        found = self.store.pending_event_matches(after_id=after_id, up_to_id=up_to_id, ids=ids)
        matched = {row_id: job_id for row_id, job_id in found.items() if job_id is not None}
        stale = []
        if set_aside:
            cutoff = now - self.orphan_grace
            cutoff = cutoff.astimezone(UTC) if cutoff.tzinfo else cutoff  # SQLite compares the UTC digits
            stale = self.store.unprocessed_events(self.page, after_id=after_id, up_to_id=up_to_id,
                                                  received_before=cutoff + timedelta(microseconds=1))
        orphans = [event for event in stale if event.id not in matched]
        self.store.settle_events(matched, [event.id for event in orphans], wake_interval=self.wake_interval)
        _log_orphans(orphans)
        unmatched = found.keys() - matched.keys() - {event.id for event in orphans}
        if ids is not None:
            self._waiting = set(unmatched)
        elif note and len(self._waiting) <= self.max_waiting:
            self._waiting |= unmatched
        return len(matched) + len(orphans)


def _log_orphans(orphans: list[EventRow]) -> None:
    for event in orphans[:_ORPHANS_LOGGED]:
        log.error(
            "webhook %s event %s (%s) refers to request %s (external id %s), which no job of this "
            "connector created; ignored. If it is another system's request, exclude it from this "
            "callback URL.", event.provider, event.event_id, event.kind, event.request_id,
            event.external_id or "none",
        )
    if len(orphans) > _ORPHANS_LOGGED:
        log.error("%d more webhook events refer to requests no job of this connector created; ignored",
                  len(orphans) - _ORPHANS_LOGGED)
