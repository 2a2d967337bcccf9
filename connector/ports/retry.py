"""How long to wait before trying again: one policy type for the HTTP clients' in-call retries and for a job's
backoff between steps. Each user declares its own values next to the code that retries."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """Up to `attempts` tries in all. The wait after failed try n is `base_delay` * 2**(n-1), or the wait the
    other side asked for (Retry-After) instead, at most `cap`; then up to `jitter` (a fraction) more at random,
    so that callers that failed together do not all come back at the same moment."""

    attempts: int = 4
    base_delay: float = 0.5
    cap: float = 20.0
    jitter: float = 0.5

    def delay(self, attempt: int, *, asked: float | None = None,
              uniform: Callable[[float, float], float] = random.uniform) -> float:
        """Seconds to wait after failed try `attempt` (the first is 1) before the next."""
        wait = asked if asked else self.base_delay * 2 ** max(attempt - 1, 0)
        return min(wait, self.cap) * uniform(1.0, 1.0 + self.jitter)

    def exhausted(self, attempt: int) -> bool:
        """Whether `attempt` failed tries use up the policy."""
        return attempt >= self.attempts
