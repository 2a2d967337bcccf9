"""Match recorded webhook events to jobs and wake those jobs.

The event itself is only a hint: the woken job asks the provider for the request's state.
An event for a request we do not know may have raced ahead of the job's commit, so it is kept
for a grace period before it is set aside as an orphan.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from connector.store import Store

log = logging.getLogger(__name__)


class EventDispatcher:
    def __init__(self, *, store: Store, clock: Callable[[], datetime], orphan_grace: timedelta):
        self.store = store
        self.clock = clock
        self.orphan_grace = orphan_grace

    def dispatch(self) -> int:
        handled = 0
        for event in self.store.unprocessed_events():
            job = self.store.get_job(event.external_id) if event.external_id else None
            if job is None or job.provider != event.provider:
                job = self.store.find_job_by_request(event.provider, event.request_id)
            if job:
                self.store.wake_job(job.id)
                self.store.mark_event(event.id, job_id=job.id, disposition="matched")
                handled += 1
                continue
            received = event.received_at if event.received_at.tzinfo else event.received_at.replace(tzinfo=UTC)
            if self.clock() - received >= self.orphan_grace:
                log.error(
                    "webhook %s event %s (%s) refers to request %s (external id %s), which no job of this "
                    "connector created; ignored. If it is another system's request, exclude it from this "
                    "callback URL.", event.provider, event.event_id, event.kind, event.request_id,
                    event.external_id or "none",
                )
                self.store.mark_event(event.id, job_id=None, disposition="orphan")
                handled += 1
        return handled
