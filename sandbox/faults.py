"""Faults the simulators inject on purpose: per-route server errors, throttling, held replies and reset
connections, and callbacks that are lost, repeated, late or out of order.

Each simulator owns one `Faults`. Every rule draws from its own random stream seeded from the run's seed,
the simulator's name and the rule's position, so the n-th call a rule sees meets the same fate on every run
with the same seed (which call comes n-th can still vary with thread timing). `counts()` tells a test what
was injected. The text form of a plan (`--faults SPEC`) is parsed in `faultspec.py`.
"""

from __future__ import annotations

import asyncio
import fnmatch
import random
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

HTTP_KINDS = ("5xx", "429", "timeout", "reset")
WEBHOOK_KINDS = ("drop", "duplicate", "delay", "reorder")
DEFAULT_HOLD_SECONDS = 35.0  # longer than the daemon's default 30 s client timeout


@dataclass
class _Rule:
    rates: dict[str, float]
    times: int | None
    rng: random.Random
    used: int = 0

    def draw(self) -> str | None:
        """One kind (or None) for this call: a single draw against the rates laid end to end."""
        if self.times is not None and self.used >= self.times:
            return None
        point, edge = self.rng.random(), 0.0
        for kind, rate in self.rates.items():
            edge += rate
            if point < edge:
                self.used += 1
                return kind
        return None


@dataclass
class HttpRule(_Rule):
    method: str = "*"
    path: str = "*"
    status: int = 503
    retry_after: float = 1.0
    hold_seconds: float = DEFAULT_HOLD_SECONDS

    def matches(self, method: str, path: str) -> bool:
        return self.method in ("*", method.upper()) and fnmatch.fnmatchcase(path, self.path)


@dataclass
class WebhookRule(_Rule):
    events: str = "*"
    delay_seconds: float = 10.0


def _rates(kinds: tuple[str, ...], values: tuple[float, ...]) -> dict[str, float]:
    rates = {k: float(v) for k, v in zip(kinds, values, strict=True) if v}
    if any(not 0 <= r <= 1 for r in rates.values()) or sum(rates.values()) > 1:
        raise ValueError(f"fault rates must be between 0 and 1 and add up to at most 1, got {rates}")
    return rates


def split_route(route: str) -> tuple[str, str]:
    """'POST /api/v1/documents/' → ('POST', '/api/v1/documents/'); a bare pattern matches any method."""
    method, _, path = route.strip().rpartition(" ")
    return (method.strip().upper() or "*"), (path or "*")


@dataclass
class Faults:
    name: str
    seed: str = "0"
    http_rules: list[HttpRule] = field(default_factory=list)
    webhook_rules: list[WebhookRule] = field(default_factory=list)
    injected: Counter = field(default_factory=Counter)  # (kind, where) -> count
    log: list[tuple[float, str, str]] = field(default_factory=list)  # (epoch seconds, kind, where), in order
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _rng(self) -> random.Random:
        position = len(self.http_rules) + len(self.webhook_rules)
        return random.Random(f"{self.seed}:{self.name}:{position}")

    def reseed(self, seed: object) -> None:
        """Seed the rules added from now on (set it before adding them)."""
        self.seed = str(seed)

    def add_http(self, route: str = "*", *, server_error: float = 0.0, throttle: float = 0.0,
                 timeout: float = 0.0, reset: float = 0.0, status: int = 503, retry_after: float = 1.0,
                 hold_seconds: float = DEFAULT_HOLD_SECONDS, times: int | None = None) -> HttpRule:
        """Calls matching `route` ("POST /api/v1/signrequest-quick-create/", "/api/v1/documents/*", "*")
        fail at these rates: `server_error` answers `status` unprocessed, `throttle` 429 with Retry-After,
        `timeout` processes the call but holds the reply `hold_seconds`, `reset` processes it and closes
        the connection without a reply. `times` caps how many calls the rule hits."""
        method, path = split_route(route)
        with self.lock:
            rule = HttpRule(_rates(HTTP_KINDS, (server_error, throttle, timeout, reset)), times, self._rng(),
                            method=method, path=path, status=status, retry_after=retry_after,
                            hold_seconds=hold_seconds)
            self.http_rules.append(rule)
            return rule

    def add_webhooks(self, events: str = "*", *, drop: float = 0.0, duplicate: float = 0.0, delay: float = 0.0,
                     reorder: float = 0.0, delay_seconds: float = 10.0, times: int | None = None) -> WebhookRule:
        """Callbacks whose event type matches `events` (a glob) are lost, sent twice, sent `delay_seconds`
        late, or held back until the next callback has gone out, at these rates."""
        with self.lock:
            rule = WebhookRule(_rates(WEBHOOK_KINDS, (drop, duplicate, delay, reorder)), times, self._rng(),
                               events=events, delay_seconds=delay_seconds)
            self.webhook_rules.append(rule)
            return rule

    def clear(self) -> None:
        """Remove every rule; the counts stay."""
        with self.lock:
            self.http_rules.clear()
            self.webhook_rules.clear()

    def _record(self, kind: str, where: str) -> None:
        """Count one injection (the caller holds the lock)."""
        self.injected[(kind, where)] += 1
        self.log.append((time.time(), kind, where))

    def counts(self) -> Counter:
        """Injected faults by kind."""
        with self.lock:
            totals: Counter = Counter()
            for (kind, _), n in self.injected.items():
                totals[kind] += n
            return totals

    def http_fault(self, method: str, path: str) -> tuple[HttpRule, str] | None:
        """The fault for this call, if any: every matching rule draws in turn and the first hit wins."""
        with self.lock:
            for rule in self.http_rules:
                kind = rule.draw() if rule.matches(method, path) else None
                if kind is not None:
                    self._record(kind, f"{method} {path}")
                    return rule, kind
        return None

    def webhook_fault(self, event_type: str) -> tuple[WebhookRule, str] | None:
        with self.lock:
            for rule in self.webhook_rules:
                kind = rule.draw() if fnmatch.fnmatchcase(event_type, rule.events) else None
                if kind is not None:
                    self._record(kind, event_type)
                    return rule, kind
        return None


ErrorBody = Callable[[int], tuple[bytes, str]]  # status -> (body, content type) in the simulator's own shape


def plain_error(status: int) -> tuple[bytes, str]:
    return (b'{"detail": "Service unavailable (injected)"}' if status >= 500
            else b'{"detail": "Request was throttled (injected)"}'), "application/json"


class FaultInjector:
    """ASGI middleware in front of a simulator: consults its `Faults` on every HTTP request."""

    def __init__(self, app, faults: Faults, error_body: ErrorBody = plain_error):
        self.app = app
        self.faults = faults
        self.error_body = error_body

    def __getattr__(self, name: str):
        if name == "app":  # not set yet (a copy being built): no wrapped app to ask
            raise AttributeError(name)
        return getattr(self.app, name)  # routes, state… of the wrapped app

    async def __call__(self, scope, receive, send) -> None:
        hit = self.faults.http_fault(scope["method"], scope["path"]) if scope["type"] == "http" else None
        if hit is None:
            await self.app(scope, receive, send)
            return
        rule, kind = hit
        if kind in ("5xx", "429"):
            status = rule.status if kind == "5xx" else 429
            body, content_type = self.error_body(status)
            headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
            if kind == "429":
                headers.append((b"retry-after", f"{rule.retry_after:g}".encode()))
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        reply: list[dict] = []

        async def keep(message: dict) -> None:
            reply.append(message)

        await self.app(scope, receive, keep)  # the call takes effect; only its answer is lost
        if kind == "timeout":
            try:
                await asyncio.sleep(rule.hold_seconds)
            except asyncio.CancelledError:
                return  # the server is shutting down; the held reply was never going to be read
            for message in reply:  # the client has given up by now; uvicorn drops writes to a closed socket
                await send(message)
            return
        await _reset_connection(send)


async def _reset_connection(send) -> None:
    """Close the client's socket with a TCP RST and no reply (uvicorn exposes its transport on `send`)."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        raise ConnectionResetError("injected connection reset")
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    for _ in range(3):  # let uvicorn see the connection lost, so it does not try to answer 500
        await asyncio.sleep(0)
