"""What one run produced, and how to run it again: the ordered faults, the invariants broken, the command that
replays it exactly.

Invariant: `replay_command` names everything the run depended on (seed, scenario, fault plan, database kind), so
that the command alone reproduces the run byte for byte (`digest` is the same).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from tests.simulation.faults import ALL_KINDS, FaultKind
from tests.simulation.injector import Fault, Point


@dataclass(frozen=True)
class RunConfig:
    seed: int
    scenario: str | None = None  # a named scenario (scenario.NAMED), or None: drawn from the seed
    inject: tuple[tuple[int, FaultKind], ...] | None = None  # exactly these faults (point number, kind); None: random
    then: tuple[tuple[FaultKind, str], ...] = ()  # after `inject`, these (kind, point name), each at its next point
    kinds: frozenset[FaultKind] = ALL_KINDS  # random faults: the kinds enabled
    skip_known_bugs: bool = True  # random faults: leave out faults.KNOWN_ENGINE_BUGS
    rate: float = 0.06
    max_faults: int = 6

    def replay_command(self, *, postgres: bool = False, injected: tuple[tuple[int, FaultKind], ...] | None = None) -> str:
        """`injected`: the faults a scripted run actually injected (its follow-ups resolved to point numbers)."""
        parts = ["python -m tests.simulation", f"--replay {self.seed}"]
        if self.scenario:
            parts.append(f"--scenario {self.scenario}")
        if self.inject is not None:
            faults = injected if injected is not None else self.inject
            parts.append("--inject " + (",".join(f"{index}:{kind}" for index, kind in faults) or "none"))
        else:
            if self.kinds != ALL_KINDS:
                parts.append("--kinds " + ",".join(sorted(self.kinds)))
            if not self.skip_known_bugs:
                parts.append("--with-known-bugs")
            if self.rate != RunConfig.rate:
                parts.append(f"--rate {self.rate}")
            if self.max_faults != RunConfig.max_faults:
                parts.append(f"--max-faults {self.max_faults}")
        if postgres:
            parts.append("--postgres")
        return " ".join(parts)


@dataclass
class RunResult:
    config: RunConfig
    start: datetime
    points: list[Point]
    faults: list[Fault]
    problems: list[str]
    invariants_checked: int
    trace: list[str] = field(repr=False)
    postgres: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def digest(self) -> str:
        text = "\n".join(self.trace) + "\n" + "\n".join(f"{p.index} {p.at.isoformat()} {p.name}" for p in self.points)
        return hashlib.sha256(text.encode()).hexdigest()

    def replay_command(self) -> str:
        injected = tuple((fault.index, fault.kind) for fault in self.faults)
        return self.config.replay_command(postgres=self.postgres, injected=injected)

    def fault_lines(self) -> list[str]:
        return [fault.describe(self.start) for fault in self.faults] or ["(none)"]

    def report(self) -> str:
        lines = [f"seed {self.config.seed}: {len(self.problems)} invariant(s) broken",
                 *(f"  - {problem}" for problem in self.problems),
                 "  faults injected, in order:", *(f"    {line}" for line in self.fault_lines()),
                 f"  replay: {self.replay_command()}"]
        return "\n".join(lines)
