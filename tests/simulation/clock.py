"""Simulated time: a clock the harness moves, and a timeline of actions due at given instants.

Invariant: time only moves forward, and actions due at the same instant run in the order they were scheduled,
so the same schedule always runs the same way.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

START = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


class SimClock:
    """The clock every part of the simulated daemon reads (store, engine, poller, dispatcher, fakes)."""

    def __init__(self, start: datetime = START):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def move_to(self, instant: datetime) -> None:
        if instant < self.now:
            raise AssertionError(f"simulated time cannot go back from {self.now} to {instant}")
        self.now = instant


@dataclass(order=True)
class _Entry:
    at: datetime
    seq: int
    label: str = field(compare=False)
    action: Callable[[], None] = field(compare=False)


class Timeline:
    """Actions of the outside world (stage entries, signers, callbacks, effects landing late), by due time."""

    def __init__(self):
        self._heap: list[_Entry] = []
        self._seq = itertools.count()

    def schedule(self, at: datetime, label: str, action: Callable[[], None]) -> None:
        heapq.heappush(self._heap, _Entry(at, next(self._seq), label, action))

    def next_time(self) -> datetime | None:
        return self._heap[0].at if self._heap else None

    def pop_due(self, now: datetime) -> _Entry | None:
        if self._heap and self._heap[0].at <= now:
            return heapq.heappop(self._heap)
        return None

    def __len__(self) -> int:
        return len(self._heap)


def seconds(value: float) -> timedelta:
    return timedelta(seconds=value)
