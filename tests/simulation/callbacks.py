"""The provider's webhook sender: delivers each event to the daemon, retrying a delivery that failed (daemon down,
503, connection reset), and, when the injector says so, duplicating, dropping, delaying or reordering it.

Invariant: a callback is only a hint. Whatever happens to callbacks, a job must still end once its request has
(the safety-net status check), and never act on a callback without asking the provider for the state.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta

from tests.simulation.clock import Timeline, seconds
from tests.simulation.faults import FaultKind, SimCrash
from tests.simulation.injector import Injector
from tests.simulation.sim_provider import ProviderEvent

RETRY_AFTER = (timedelta(seconds=30), timedelta(minutes=5), timedelta(minutes=30))  # then the provider gives up
REORDER_WAIT = timedelta(minutes=10)  # a held-back event goes out after the next one, or after this long


class CallbackSender:
    def __init__(self, *, clock: Callable[[], datetime], timeline: Timeline, injector: Injector,
                 rng: random.Random, deliver: Callable[[ProviderEvent], bool]):
        self.clock = clock
        self.timeline = timeline
        self.injector = injector
        self.rng = rng
        self.deliver = deliver  # True once the daemon acknowledged it (recorded, or recorded before)
        self._held: dict[str, ProviderEvent] = {}  # request id -> event waiting to go out after the next one
        self.delivered = 0

    def emit(self, event: ProviderEvent) -> None:
        kind = self.injector.at("callback")
        now = self.clock()
        if kind == FaultKind.CALLBACK_DROPPED:
            return
        if kind == FaultKind.CALLBACK_REORDERED:
            if (earlier := self._held.get(event.request_id)) is not None:
                self._release(event.request_id, earlier)
            self._held[event.request_id] = event
            self.timeline.schedule(now + REORDER_WAIT, f"held callback {event.event_id}",
                                   lambda: self._release(event.request_id, event))
            return
        if kind == FaultKind.CALLBACK_DELAYED:
            self._send_at(now + seconds(self.rng.uniform(120, 2700)), event)
            return
        self._send_at(now + seconds(self.rng.uniform(0.2, 3)), event)
        if kind == FaultKind.CALLBACK_DUPLICATED:
            self._send_at(now + seconds(self.rng.uniform(3, 120)), event)

    def _send_at(self, at: datetime, event: ProviderEvent, attempt: int = 0) -> None:
        self.timeline.schedule(at, f"callback {event.event_id} ({event.kind}) attempt {attempt + 1}",
                               lambda: self._attempt(event, attempt))

    def _attempt(self, event: ProviderEvent, attempt: int) -> None:
        try:
            ok = self.deliver(event)
        except SimCrash:
            self._retry(event, attempt)  # the connection dropped: the provider will try again
            raise
        if not ok:
            self._retry(event, attempt)
            return
        self.delivered += 1
        held = self._held.get(event.request_id)
        if held is not None and held is not event:
            self._release(event.request_id, held)

    def _release(self, request_id: str, event: ProviderEvent) -> None:
        if self._held.get(request_id) is event:
            del self._held[request_id]
            self._send_at(self.clock() + seconds(self.rng.uniform(0.1, 2)), event)

    def _retry(self, event: ProviderEvent, attempt: int) -> None:
        if attempt < len(RETRY_AFTER):
            self._send_at(self.clock() + RETRY_AFTER[attempt], event, attempt + 1)
