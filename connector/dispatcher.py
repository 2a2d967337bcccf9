"""Match recorded webhook events to jobs and wake those jobs.

The event itself is only a hint: the woken job asks the provider for the request's state.
An event for a request we do not know may have raced ahead of the job's commit, so it is kept
for a grace period before it is set aside as an orphan.

Each dispatch looks at the events recorded since the last one: one query finds the jobs they
concern, one transaction wakes those jobs and marks the events. Events still waiting for their job
are looked at again every `recheck_every`, together, in the same few queries.
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
                 recheck_every: timedelta = timedelta(seconds=2), page: int = 2000):
        self.store = store
        self.clock = clock
        self.orphan_grace = orphan_grace
        self.recheck_every = recheck_every
        self.page = page  # event row ids per sweep
        self._seen = 0  # events up to this row id have been looked at once
        self._rechecked_at: datetime | None = None
        self._lock = threading.Lock()

    def dispatch(self) -> int:
        """Match or set aside what can be; returns how many events that was."""
        with self._lock:
            now = self.clock()
            handled = 0
            if self._rechecked_at is None or now - self._rechecked_at >= self.recheck_every:
                self._rechecked_at = now
                handled += self._sweep(0, self._seen, now, set_aside=True)
            latest = self.store.last_event_id()
            # New events are set aside at the next recheck, unless the grace period is shorter than that.
            set_aside_now = self.orphan_grace < self.recheck_every
            while self._seen < latest:
                up_to = min(latest, self._seen + self.page)
                handled += self._sweep(self._seen, up_to, now, set_aside=set_aside_now)
                self._seen = up_to
            return handled

    def _sweep(self, after_id: int, up_to_id: int, now: datetime, *, set_aside: bool) -> int:
        """Unprocessed events with row ids in (after_id, up_to_id]: match them, and set aside those past
        the grace period when `set_aside`."""
        if up_to_id <= after_id:
            return 0
        matched = self.store.pending_event_matches(after_id=after_id, up_to_id=up_to_id)
        stale = []
        if set_aside:
            cutoff = now - self.orphan_grace
            cutoff = cutoff.astimezone(UTC) if cutoff.tzinfo else cutoff  # SQLite compares the UTC digits
            stale = self.store.unprocessed_events(self.page, after_id=after_id, up_to_id=up_to_id,
                                                  received_before=cutoff + timedelta(microseconds=1))
        orphans = [event for event in stale if event.id not in matched]
        self.store.settle_events(matched, [event.id for event in orphans])
        _log_orphans(orphans)
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
