"""Refused callbacks counted by provider, status and reason since the process started (the admin page).

Reasons are the adapters' own fixed sentences, never text from the request, so the set stays small; past
`MAX_REASONS` distinct ones the rest are counted together."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

MAX_REASONS = 100
OTHER = "(other reasons)"


@dataclass(frozen=True)
class RefusalCount:
    provider: str
    status: int
    reason: str
    count: int
    last_at: datetime


class WebhookRefusals:
    def __init__(self, clock):
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, int, str], tuple[int, datetime]] = {}

    def count(self, provider: str, status: int, reason: str) -> None:
        key = (provider, status, reason)
        with self._lock:
            if key not in self._counts and len(self._counts) >= MAX_REASONS:
                key = (provider, status, OTHER)
            seen, _ = self._counts.get(key, (0, None))
            self._counts[key] = (seen + 1, self._clock())

    def snapshot(self) -> list[RefusalCount]:
        """Most refused first."""
        with self._lock:
            items = list(self._counts.items())
        return sorted((RefusalCount(p, s, r, n, at) for (p, s, r), (n, at) in items), key=lambda c: -c.count)
