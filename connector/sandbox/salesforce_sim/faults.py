"""Injected failures: make the next calls to a route fail (or stall) the way a busy org does."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from connector.sandbox.salesforce_sim.errors import SfError


@dataclass
class _Fault:
    route: str  # "PATCH /sobjects/Opportunity/{id}" or, for any method, "/sobjects/Opportunity/{id}"
    error: SfError | None
    delay_seconds: float
    remaining: int


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[_Fault] = []

    def add(self, route: str, error: SfError | None, delay_seconds: float, times: int) -> None:
        with self._lock:
            self._pending.append(_Fault(route, error, delay_seconds, times))

    def take(self, method: str, template: str) -> tuple[SfError | None, float]:
        """The error (None: answer normally) and the delay for this call, using up one injection."""
        with self._lock:
            for fault in self._pending:
                if fault.route in (f"{method} {template}", template):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._pending.remove(fault)
                    return fault.error, fault.delay_seconds
        return None, 0.0
