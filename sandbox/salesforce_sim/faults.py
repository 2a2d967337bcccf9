"""Injected failures of the simulated org: the shared per-route faults (`sandbox.faults`), plus
what only Salesforce does: failing the next calls to a route with a given error code, sessions that
expire every N calls, and the 403 REQUEST_LIMIT_EXCEEDED of a used-up API allocation."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from sandbox.faults import Faults
from sandbox.salesforce_sim.errors import SfError

# The bodies the reference gives (salesforce.md §2.3 and §7.4).
SESSION_EXPIRED = SfError(401, "INVALID_SESSION_ID", "Session expired or invalid")


def limit_exceeded(daily_limit: int) -> SfError:
    return SfError(403, "REQUEST_LIMIT_EXCEEDED", f"TotalRequests Limit exceeded. Limit: {daily_limit}")


@dataclass
class _Fault:
    route: str  # "PATCH /sobjects/Opportunity/{id}" or, for any method, "/sobjects/Opportunity/{id}"
    error: SfError | None
    delay_seconds: float
    remaining: int


@dataclass
class SalesforceFaults(Faults):
    name: str = "salesforce"
    session_expiry_every: int | None = None  # every N-th authenticated API call finds its session expired
    limit_exceeded_rate: float = 0.0
    limit_exhausted: bool = False  # every call answers REQUEST_LIMIT_EXCEEDED until cleared
    _pending: list[_Fault] = field(default_factory=list)
    _api_calls: int = 0
    _limit_rng: random.Random = field(default_factory=random.Random)

    def add(self, route: str, error: SfError | None, delay_seconds: float, times: int) -> None:
        with self.lock:
            self._pending.append(_Fault(route, error, delay_seconds, times))

    def take(self, method: str, template: str) -> tuple[SfError | None, float]:
        """The error (None: answer normally) and the delay for this call, using up one injection."""
        with self.lock:
            for fault in self._pending:
                if fault.route in (f"{method} {template}", template):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._pending.remove(fault)
                    if fault.error is not None:
                        self._record(fault.error.code, f"{method} {template}")
                    return fault.error, fault.delay_seconds
        return None, 0.0

    def expire_sessions_every(self, calls: int | None) -> None:
        """From now on every `calls`-th API call finds every session expired (None: never)."""
        with self.lock:
            self.session_expiry_every, self._api_calls = calls, 0

    def exceed_limit(self, rate: float = 0.0, *, exhausted: bool = False) -> None:
        """Answer REQUEST_LIMIT_EXCEEDED to a share of calls (`rate`), or to all of them until cleared
        (`exhausted`); `exceed_limit()` clears both."""
        if not 0 <= rate <= 1:
            raise ValueError(f"rate must be between 0 and 1, got {rate}")
        with self.lock:
            self.limit_exceeded_rate, self.limit_exhausted = rate, exhausted
            self._limit_rng = random.Random(f"{self.seed}:{self.name}:limit")

    def session_expires_now(self, route: str) -> bool:
        """Count one authenticated API call; True when this is the call on which sessions expire."""
        with self.lock:
            if not self.session_expiry_every:
                return False
            self._api_calls += 1
            if self._api_calls % self.session_expiry_every:
                return False
            self._record("session_expired", route)
            return True

    def limit_exceeded_now(self, route: str) -> bool:
        with self.lock:
            hit = self.limit_exhausted or (
                self.limit_exceeded_rate > 0 and self._limit_rng.random() < self.limit_exceeded_rate)
            if hit:
                self._record("limit_exceeded", route)
            return hit

    def clear(self) -> None:
        super().clear()
        with self.lock:
            self._pending.clear()
            self.session_expiry_every, self.limit_exceeded_rate, self.limit_exhausted = None, 0.0, False
