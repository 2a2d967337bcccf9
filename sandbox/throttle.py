"""Network conditions for a simulator: a latency per call and a provider's request-rate cap.

`Throttle` wraps any simulator's ASGI app without touching it. Every HTTP call first waits
`latency_seconds` (as a round trip to a real API would), then takes a token from a bucket that
refills at `rate_per_second`; with none left it answers 429 with a Retry-After header, as the
providers do above their limits. Both knobs may be changed while the server runs.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from dataclasses import dataclass, field


@dataclass
class ThrottleCounts:
    calls: int = 0
    rejected: int = 0
    by_status: dict[int, int] = field(default_factory=dict)


class TokenBucket:
    """`rate` tokens a second, at most one second's worth (and at least one) held at once."""

    def __init__(self, rate: float, clock=time.monotonic):
        self.rate, self.clock = rate, clock
        self.capacity = max(rate, 1.0)
        self.tokens, self.updated = self.capacity, clock()
        self.lock = threading.Lock()

    def take(self) -> float:
        """0 when a token was taken; otherwise the seconds until one will be there."""
        with self.lock:
            now = self.clock()
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens >= 1:
                self.tokens -= 1
                return 0.0
            return (1 - self.tokens) / self.rate


class Throttle:
    def __init__(self, app, *, latency_seconds: float = 0.0, rate_per_second: float | None = None,
                 clock=time.monotonic):
        self.app, self.clock = app, clock
        self.latency_seconds = latency_seconds
        self.counts = ThrottleCounts()
        self._lock = threading.Lock()
        self._bucket: TokenBucket | None = None
        self.rate_per_second = rate_per_second

    @property
    def rate_per_second(self) -> float | None:
        return self._bucket.rate if self._bucket else None

    @rate_per_second.setter
    def rate_per_second(self, rate: float | None) -> None:
        self._bucket = TokenBucket(rate, self.clock) if rate else None

    def reset_counts(self) -> None:
        with self._lock:
            self.counts = ThrottleCounts()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.latency_seconds:
            await asyncio.sleep(self.latency_seconds)
        bucket = self._bucket
        wait = bucket.take() if bucket else 0.0
        with self._lock:
            self.counts.calls += 1
            self.counts.rejected += bool(wait)
        if wait:
            await _too_many_requests(send, math.ceil(wait))
            self._count_status(429)
            return

        async def counting_send(message) -> None:
            if message["type"] == "http.response.start":
                self._count_status(message["status"])
            await send(message)

        await self.app(scope, receive, counting_send)

    def _count_status(self, status: int) -> None:
        with self._lock:
            self.counts.by_status[status] = self.counts.by_status.get(status, 0) + 1


async def _too_many_requests(send, retry_after: int) -> None:
    body = b'{"detail": "Request was throttled."}'
    await send({"type": "http.response.start", "status": 429, "headers": [
        (b"content-type", b"application/json"), (b"retry-after", str(retry_after).encode()),
        (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
