"""Client-side rate limits for a provider's API, shared by every worker thread.

Each provider gets one `RateLimiter`, applied on its HTTP session by `RateLimitedAdapter`, so every
call to that provider (creates, status checks, downloads) waits for its turn. Turns are handed out
evenly spaced, without a burst: a provider counting requests over any one-second window never sees
more than its limit. A 429 answer pauses every caller of that provider for the Retry-After.

Safety-net status checks are background work: inside `background_calls()` a call first waits for a
turn of a slower schedule (`background_share` of the rate), so they take at most that share and
creates keep the rest. A check woken by a callback is not background and waits behind nobody.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from urllib.parse import urlparse

import requests
from requests.adapters import HTTPAdapter

from adapters.transport.http import retry_after_seconds
from connector.ports.call_priority import background_calls, in_background
from connector.ports.observer import NO_OBSERVER, Observer
from connector.ports.send_deadline import check_may_send
from connector.runtime.metrics import endpoint_of

__all__ = ["RateLimitedAdapter", "RateLimiter", "background_calls", "in_background"]

log = logging.getLogger(__name__)

DEFAULT_PAUSE_SECONDS = 1.0
MAX_PAUSE_SECONDS = 300.0
class _Schedule:
    """Evenly spaced turns at `rate` a second; each caller reserves the next free turn."""

    def __init__(self, rate: float | None):
        self.interval = 1.0 / rate if rate else 0.0
        self.next_turn = 0.0

    def reserve(self, now: float, not_before: float) -> float:
        """The time of the caller's turn (call under the limiter's lock)."""
        turn = max(now, self.next_turn, not_before)
        self.next_turn = turn + self.interval
        return turn


class RateLimiter:
    def __init__(self, name: str, rate: float | None, *, background_share: float = 1.0,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.name = name
        self.rate = rate
        self.clock, self.sleep = clock, sleep
        self._lock = threading.Lock()
        self._calls = _Schedule(rate)
        self._background = _Schedule(rate * background_share if rate else None)
        self._paused_until = 0.0

    def acquire(self) -> None:
        """Wait until this thread may send one request."""
        if in_background() and self.rate:
            self._wait_for(self._background)
        self._wait_for(self._calls)

    def _wait_for(self, schedule: _Schedule) -> None:
        while True:
            with self._lock:
                now = self.clock()
                turn = schedule.reserve(now, self._paused_until)
            if turn > now:
                self.sleep(turn - now)
            with self._lock:
                # A 429 that came in while we slept pauses us too.
                if self._paused_until <= self.clock() or self._paused_until <= turn:
                    return

    def pause(self, seconds: float) -> None:
        """Stop every caller for `seconds` (the provider answered 429)."""
        seconds = min(max(seconds, 0.0), MAX_PAUSE_SECONDS)
        with self._lock:
            until = self.clock() + seconds
            if until > self._paused_until:
                self._paused_until = until
                log.warning("%s answered 429: its API calls pause for %.1fs", self.name, seconds)

    @property
    def paused_until(self) -> float:
        return self._paused_until


class RateLimitedAdapter(HTTPAdapter):
    """An HTTPAdapter whose every request first waits for the limiter; a 429 pauses the limiter. Every call to a
    provider passes here, so this is where `observer` hears of each one: its wait, endpoint, status and time."""

    def __init__(self, limiter: RateLimiter, *, pool_size: int = 10, now: Callable[[], float] = time.time,
                 provider: str | None = None, observer: Observer = NO_OBSERVER):
        self.limiter = limiter
        self._now = now
        self.provider = provider or limiter.name
        self.observer = observer
        super().__init__(pool_connections=4, pool_maxsize=pool_size)

    def send(self, request: requests.PreparedRequest, *args, **kwargs) -> requests.Response:
        method, path = request.method or "GET", urlparse(request.url or "").path
        waited = time.monotonic()
        self.limiter.acquire()
        started = time.monotonic()
        self.observer.rate_limit_wait(self.provider, started - waited)
        # The wait for a turn may have outlasted the effect's deadline: then the request must not leave.
        check_may_send(method, path)
        try:
            response = super().send(request, *args, **kwargs)
        except Exception:
            self.observer.provider_call(self.provider, method, endpoint_of(path), "error", time.monotonic() - started)
            raise
        self.observer.provider_call(self.provider, method, endpoint_of(path), str(response.status_code),
                                    time.monotonic() - started)
        if response.status_code == 429:
            self.limiter.pause(_retry_after(response.headers.get("Retry-After"), self._now))
        return response


def _retry_after(value: str | None, now: Callable[[], float]) -> float:
    """Seconds from a Retry-After header (delta-seconds or an HTTP-date); a default when absent or garbled."""
    seconds = retry_after_seconds(value, now)
    return DEFAULT_PAUSE_SECONDS if seconds is None else seconds
