"""A provider's rate limit shared by every replica: the schedule of turns lives in PostgreSQL.

`CONNECTOR_<PROVIDER>_MAX_REQUESTS_PER_SECOND` is the account's limit, so N replicas must together stay under
it. Each request reserves the next free turn of the provider's schedule with one statement (the row `name`
of the rate_limits table holds the next free turn, on the database server's clock, the one clock the
replicas share); the caller sleeps until its turn. Turns are evenly spaced, whatever replica takes them, so
the provider never sees more than the limit over any second, and a 429 recorded in the same row pauses every
replica for its Retry-After: no turn is handed out inside the pause.

A turn is reserved at the moment a request wants to go, never in advance, so no capacity is left unused by a
replica that reserved more than it needed. That is one round trip to the database per provider request
(about a millisecond, on a pooled connection held only for it).

Safety-net status checks keep their share (`background_share`) as in the single-process limiter, with a
schedule of their own (`<name>:background`) taken before the main one.

Should the database not answer, the limiter falls back to this process's own schedule at the full rate, and
says so in the log; the replicas may then exceed the limit together, and the 429s pause them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

from connector.runtime.ratelimit import MAX_PAUSE_SECONDS, RateLimiter, _Schedule, in_background

log = logging.getLogger(__name__)
_FALLBACK_LOG_SECONDS = 60.0


class SlotStore(Protocol):
    def reserve_rate_slot(self, name: str, interval: float) -> tuple[float, float]: ...

    def pause_rate(self, name: str, seconds: float) -> None: ...


class SharedRateLimiter(RateLimiter):
    def __init__(self, name: str, rate: float | None, *, slots: SlotStore, key: str, background_share: float = 1.0,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        super().__init__(name, rate, background_share=background_share, clock=clock, sleep=sleep)
        self.slots, self.key = slots, key
        self._interval = 1.0 / rate if rate else 0.0
        self._background_interval = 1.0 / (rate * background_share) if rate else 0.0
        self._fallback_logged_at = float("-inf")

    def acquire(self) -> None:
        if in_background() and self.rate:
            self._take_turn(f"{self.key}:background", self._background_interval, self._background)
        self._take_turn(self.key, self._interval, self._calls)

    def _take_turn(self, key: str, interval: float, fallback: _Schedule) -> None:
        while True:
            try:
                wait, paused = self.slots.reserve_rate_slot(key, interval)
            except Exception as exc:  # noqa: BLE001 - the provider calls go on, paced by this process alone
                self._log_fallback(exc)
                self._wait_for(fallback)
                return
            now = self.clock()
            if paused > 0:
                self._note_pause(now + min(paused, MAX_PAUSE_SECONDS))
            if interval <= 0:  # no limit of our own: only a pause holds the call
                wait = min(paused, MAX_PAUSE_SECONDS)
            turn = now + wait
            if wait > 0:
                self.sleep(wait)
            with self._lock:
                # A 429 that came in while we slept (here, or at another replica: seen by a later reservation)
                # pauses us too: take a turn after it.
                if self._paused_until <= self.clock() or self._paused_until <= turn:
                    return

    def pause(self, seconds: float) -> None:
        super().pause(seconds)
        seconds = min(max(seconds, 0.0), MAX_PAUSE_SECONDS)
        try:
            self.slots.pause_rate(self.key, seconds)
        except Exception as exc:  # noqa: BLE001 - this process pauses all the same
            self._log_fallback(exc)

    def _note_pause(self, until: float) -> None:
        with self._lock:
            if until > self._paused_until:
                self._paused_until = until

    def _log_fallback(self, exc: Exception) -> None:
        now = self.clock()
        if now - self._fallback_logged_at >= _FALLBACK_LOG_SECONDS:
            self._fallback_logged_at = now
            log.warning("%s rate limit: the shared schedule in the database failed (%s: %s); pacing this "
                        "replica's calls on its own meanwhile", self.name, type(exc).__name__, exc)
