"""Limits for the daemon's HTTP server against slow and idle connections.

uvicorn offers a keep-alive timeout (`timeout_keep_alive`: idle time after a response) and
`limit_concurrency` (a 503 to requests arriving while that many connections or tasks are open), but
no limit on how long a client may take to send a request, nor on how many connections it may hold
open: a connection that never finishes its request head, or drips its body a byte at a time, is kept
for ever, and 300 such connections were all kept for a minute. `limit_concurrency` does not help
there: it only answers requests, it closes nothing, and it counts the held connections against the
good ones.

`guarded_protocol(limits)` is uvicorn's httptools protocol (httptools is a dependency) with:

* a head deadline: from the connection's opening, or from the first byte of a later request on a kept-alive
  connection, until the request head is complete: `header_seconds`;
* a body deadline: from the end of the head until the end of the body: `body_seconds`;
* a head size limit (`MAX_HEAD_BYTES`): no timeout bounds what a fast client sends meanwhile;
* a connection limit: a connection beyond `max_connections` open ones gets a 503 and is closed at once.

A connection past a deadline gets a 408 (unless a response is under way) and is closed. Closures are
logged as one WARNING line a minute at most, with counts, whatever their number.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)

MAX_HEAD_BYTES = 64 * 1024  # request line and headers; a provider's callback head is well under 2 KB
_SUMMARY_SECONDS = 60.0
_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
_BUSY = (b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: 26\r\n"
         b"retry-after: 5\r\nconnection: close\r\n\r\ntoo many connections; retry")


@dataclass(frozen=True)
class ServerLimits:
    max_connections: int = 256
    header_seconds: float = 10.0
    body_seconds: float = 30.0
    keep_alive_seconds: float = 5.0

    @classmethod
    def from_settings(cls, settings) -> ServerLimits:
        return cls(max_connections=settings.webhook_max_connections,
                   header_seconds=settings.webhook_header_timeout_seconds,
                   body_seconds=settings.webhook_body_timeout_seconds,
                   keep_alive_seconds=settings.webhook_keep_alive_seconds)


class _HeadTooLarge(Exception):
    pass


class _Closures:
    """Counts of connections closed by the guard, logged as one line a minute at most."""

    def __init__(self):
        self.counts: dict[str, int] = {}
        self.logged_at = float("-inf")

    def add(self, reason: str) -> None:
        self.counts[reason] = self.counts.get(reason, 0) + 1
        now = time.monotonic()
        if now - self.logged_at >= _SUMMARY_SECONDS:
            total = sum(self.counts.values())
            detail = ", ".join(f"{reason} {count}" for reason, count in sorted(self.counts.items()))
            log.warning("HTTP server closed %d slow, idle or surplus connection(s) (%s)", total, detail)
            self.counts, self.logged_at = {}, now


class _GuardedProtocol(HttpToolsProtocol):
    limits: ServerLimits
    closures: _Closures
    _deadline: asyncio.TimerHandle | None

    def connection_made(self, transport) -> None:
        self._deadline = None
        self._head_bytes = 0
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            self.closures.add("over the connection limit")
            transport.write(_BUSY)
            transport.close()
            return
        self._arm(self.limits.header_seconds, "header timeout")

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)

    # --- the parser's callbacks: where each deadline starts and ends -----------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        if self._deadline is None:  # a kept-alive connection's next request: its head starts now
            self._arm(self.limits.header_seconds, "header timeout")

    def on_url(self, url: bytes) -> None:
        self._count_head(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_head(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._arm(self.limits.body_seconds, "body timeout")
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()  # the request is in; the app's time to answer is not the client's
        super().on_message_complete()

    # --- deadlines --------------------------------------------------------------------------------

    def _count_head(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > MAX_HEAD_BYTES:
            self.closures.add("head over 64 KB")
            raise _HeadTooLarge  # httptools stops parsing and raises a parser error: uvicorn answers 400, closes

    def _arm(self, seconds: float, reason: str) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired, reason)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self, reason: str) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        self.closures.add(reason)
        cycle = self.cycle
        if cycle is None or cycle.response_complete or not cycle.response_started:
            self.transport.write(_TIMEOUT)
        self.transport.close()


def guarded_protocol(limits: ServerLimits) -> type[HttpToolsProtocol]:
    """A protocol class for `uvicorn.Config(http=...)`, bound to `limits` (one per server)."""
    return type("GuardedHttpToolsProtocol", (_GuardedProtocol,), {"limits": limits, "closures": _Closures()})
