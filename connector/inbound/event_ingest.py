"""Group commit for webhook callbacks: many in flight, one transaction.

Each callback hands its authenticated event to `EventIngest.record` and waits. One writer thread takes
everything queued, records it with a single `Store.record_events` call, and only then answers each
waiting callback. While that transaction commits the next callbacks queue up, so under load a batch
grows until one commit serves them all; at rest a callback is committed alone, at once. Callbacks of
one event-loop turn reach the writer together, so the thread is signalled once per turn.

The worker is woken after a commit that recorded new events, at most every `wake_interval`: a burst
of callbacks wakes it a few times a second, not once per commit.

A batch that cannot be recorded fails every callback in it (the server answers 503 and the provider
retries): nothing is acknowledged that is not committed.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from connector.store import EventCaps, NewEvent, Store

log = logging.getLogger(__name__)


class IngestFailed(Exception):
    """The batch holding this event could not be recorded; the event is not stored."""


@dataclass
class _Waiting:
    event: NewEvent
    loop: asyncio.AbstractEventLoop
    answer: asyncio.Future


class EventIngest:
    def __init__(self, store: Store, *, on_recorded: Callable[[], None] = lambda: None, max_batch: int = 2000,
                 wake_interval: float = 0.05, idle_seconds: float = 5.0, summary_seconds: float = 60.0,
                 caps: EventCaps | None = None):
        self.store = store
        self.caps = caps  # None: the store's defaults
        self.on_recorded = on_recorded  # called after commits that recorded new events, at most every wake_interval
        self.max_batch = max_batch
        self.wake_interval = wake_interval
        self.idle_seconds = idle_seconds  # the writer thread ends after this long without callbacks
        self.summary_seconds = summary_seconds
        self._gathering: dict[asyncio.AbstractEventLoop, list[_Waiting]] = {}
        self._queue: list[_Waiting] = []
        self._ready = threading.Condition()
        self._writer: threading.Thread | None = None
        self._wake_owed = False
        self._next_wake = 0.0
        self._counts = {"recorded": 0, "stale": 0, "duplicate": 0, "over_cap": 0, "failed": 0, "transactions": 0}
        self._summary_due = time.monotonic() + summary_seconds

    @property
    def queued(self) -> int:
        """Callbacks handed to the writer and waiting for the next transaction."""
        with self._ready:
            return len(self._queue)

    async def record(self, event: NewEvent) -> bool | None:
        """Wait until `event` is committed; True when new, False when there was nothing new to keep (a redelivery,
        a stale informational event), None when left out by the caps (Store.record_events). Raises IngestFailed."""
        loop = asyncio.get_running_loop()
        waiting = _Waiting(event, loop, loop.create_future())
        gathered = self._gathering.get(loop)
        if gathered is None:  # the first callback of this loop turn: hand them all over at its end
            gathered = self._gathering[loop] = []
            loop.call_soon(self._hand_over, loop)
        gathered.append(waiting)
        return await waiting.answer

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        gathered = self._gathering.pop(loop)
        with self._ready:
            self._queue += gathered
            if self._writer is None:
                self._writer = threading.Thread(target=self._write, name="event-ingest", daemon=True)
                self._writer.start()
            self._ready.notify()

    def _write(self) -> None:
        while (batch := self._next_batch()) is not None:
            if batch:
                self._record(batch)
            if self._wake_owed and time.monotonic() >= self._next_wake:
                self._wake()
            self._summarise()

    def _record(self, batch: list[_Waiting]) -> None:
        self._counts["transactions"] += 1
        try:
            fresh = self.store.record_events([w.event for w in batch], self.caps)
        except Exception:  # noqa: BLE001 - any failure: these callbacks get a 5xx and are retried
            log.exception("could not record %d webhook callbacks; answered 503 so the providers retry", len(batch))
            self._counts["failed"] += len(batch)
            _answer(batch, [IngestFailed("the event could not be recorded")] * len(batch))
            return
        new = fresh.count(True)
        self._counts["recorded"] += new
        self._counts["over_cap"] += fresh.count(None)
        self._counts["stale"] += sum(1 for w, kept in zip(batch, fresh, strict=True) if kept and w.event.stale)
        self._counts["duplicate"] += len(batch) - new - fresh.count(None)
        if new:
            self._wake_owed = True
            if time.monotonic() >= self._next_wake:
                self._wake()  # before the answers: whoever sees this 200 also sees the worker woken
        _answer(batch, fresh)

    def _wake(self) -> None:
        self._wake_owed = False
        self._next_wake = time.monotonic() + self.wake_interval
        try:
            self.on_recorded()
        except Exception:  # noqa: BLE001 - waking the worker early is an optimisation
            log.exception("could not wake the worker after new webhook events")

    def _next_batch(self) -> list[_Waiting] | None:
        """Everything queued (up to max_batch), or [] when a wake-up falls due first; None when idle long
        enough to let the thread end."""
        with self._ready:
            if not self._queue:
                timeout = max(0.0, self._next_wake - time.monotonic()) if self._wake_owed else self.idle_seconds
                self._ready.wait_for(lambda: self._queue, timeout=timeout)
            if not self._queue and self._wake_owed:
                return []
            if not self._queue:
                self._writer = None  # the next callback starts a new writer
                self._summarise(force=True)
                return None
            batch, self._queue = self._queue[:self.max_batch], self._queue[self.max_batch:]
            return batch

    def _summarise(self, *, force: bool = False) -> None:
        if not any(self._counts.values()) or (not force and time.monotonic() < self._summary_due):
            return
        log.info("webhooks: %(recorded)d events recorded (%(stale)d of them stale: dated outside the replay window, "
                 "kept as hints), %(duplicate)d redeliveries or stale informational events ignored, %(failed)d "
                 "not recorded (answered 503), in %(transactions)d transactions", self._counts)
        if self._counts["over_cap"]:
            log.warning("webhooks: %d events acknowledged but not kept: their job or request, or requests no job has "
                        "in all, already had as many stored as allowed (CONNECTOR_WEBHOOK_MAX_EVENTS_PER_REQUEST, "
                        "CONNECTOR_WEBHOOK_MAX_UNMATCHED_EVENTS). A flood of replayed callbacks, or another system "
                        "sending to this URL", self._counts["over_cap"])
        self._counts = dict.fromkeys(self._counts, 0)
        self._summary_due = time.monotonic() + self.summary_seconds


def _answer(batch: list[_Waiting], outcomes: list) -> None:
    """Hand each callback its outcome on its own event loop: one wake-up per loop, not per callback."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future, object]]] = {}
    for waiting, outcome in zip(batch, outcomes, strict=True):
        by_loop.setdefault(waiting.loop, []).append((waiting.answer, outcome))
    for loop, answers in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle, answers)
        except RuntimeError:
            pass  # that loop has closed: its callers are gone


def _settle(answers: list[tuple[asyncio.Future, object]]) -> None:
    for future, outcome in answers:
        if future.done():
            continue  # the caller went away (connection closed); the event is recorded all the same
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
