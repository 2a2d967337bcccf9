"""What the simulated ports saw happen, as it happened, for the invariants that concern the moment of an action
(a status written before the provider confirmed it) rather than the state at the end."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class Witness:
    start: datetime
    violations: list[str] = field(default_factory=list)
    checks: int = 0  # how many actions were checked as they happened

    def check(self, ok: bool, message: str, at: datetime) -> None:
        self.checks += 1
        if not ok:
            self.violations.append(f"t+{int((at - self.start).total_seconds())}s {message}")
