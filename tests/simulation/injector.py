"""The fault injector: every injection point of a run passes through `Injector.at`, which numbers it, asks the
run's fault plan whether to fail there and how, and records both.

Invariant: the plan is asked at every point, in the order the run reaches them, and nothing else in the run draws
from the plan's random stream; so the same seed reaches the same points in the same order, and a point's number
identifies it across runs (the exhaustive mode relies on this to aim one fault at point N of a clean run).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from tests.simulation.faults import CRASHES, KINDS_AT, TIMED, FaultKind


@dataclass(frozen=True)
class Point:
    index: int
    at: datetime
    name: str
    kinds: tuple[FaultKind, ...]  # what could have been injected here


@dataclass(frozen=True)
class Fault:
    index: int
    at: datetime
    point: str
    kind: FaultKind

    def describe(self, start: datetime) -> str:
        return f"#{self.index} t+{_offset(self.at, start)} {self.point}: {self.kind}"


def _offset(at: datetime, start: datetime) -> str:
    total = int((at - start).total_seconds())
    return f"{total // 3600}:{total // 60 % 60:02d}:{total % 60:02d}"


STORE_SHARE = 0.4  # store commits are most of a run's points: at the full rate they would crowd out the port faults


class FaultPlan:
    """Decides the fault (or None) at each point. Subclasses draw only from their own random stream."""

    def choose(self, point: Point) -> FaultKind | None:
        return None


class NoFaults(FaultPlan):
    pass


@dataclass
class ScriptedFaults(FaultPlan):
    """Exactly these faults, at these point numbers (the exhaustive mode, and replays); then, once the last of them
    is injected, each of `then` (kind, point name) at the next point of that name, in turn: a follow-up fault
    named by where it goes rather than by a number, which a change to the engine would shift."""

    faults: dict[int, FaultKind]
    then: tuple[tuple[FaultKind, str], ...] = ()

    def choose(self, point: Point) -> FaultKind | None:
        kind = self.faults.get(point.index)
        if kind is not None and kind not in point.kinds:
            raise ValueError(f"{kind} cannot be injected at point #{point.index} ({point.name})")
        if kind is None and self.then and point.index > max(self.faults, default=-1):
            wanted, name = self.then[0]
            if name == point.name and wanted in point.kinds:
                kind, self.then = wanted, self.then[1:]
        return kind


@dataclass
class RandomFaults(FaultPlan):
    """At each point, with probability `rate` (a store commit: `rate` x STORE_SHARE, there are many of them), one
    of the enabled kinds that apply there, up to `max_faults` per run (of which at most `max_crashes` crashes), and
    none at or after `until` (the calm phase)."""

    seed: int
    rate: float
    enabled: frozenset[FaultKind]
    skip: frozenset[tuple[FaultKind, str]]
    until: Callable[[], datetime]
    max_faults: int = 6
    max_crashes: int = 3
    _rng: random.Random = field(init=False)
    _count: int = field(default=0, init=False)
    _crashes: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(f"faults:{self.seed}")

    def choose(self, point: Point) -> FaultKind | None:
        roll, pick = self._rng.random(), self._rng.random()  # two draws at every point, whatever happens
        rate = self.rate * (STORE_SHARE if point.name.startswith("store.") else 1.0)
        if roll >= rate or self._count >= self.max_faults or point.at >= self.until():
            return None
        kinds = [k for k in point.kinds if k in self.enabled and (k, point.name) not in self.skip
                 and (k not in CRASHES or self._crashes < self.max_crashes)]
        if not kinds:
            return None
        kind = kinds[int(pick * len(kinds))]
        self._count += 1
        self._crashes += kind in CRASHES
        return kind


class Injector:
    def __init__(self, plan: FaultPlan, clock: Callable[[], datetime], seed: int,
                 on_fault: Callable[[Fault], None] = lambda fault: None):
        self.plan = plan
        self.clock = clock
        self.seed = seed
        self.on_fault = on_fault
        self.points: list[Point] = []
        self.faults: list[Fault] = []
        self.depth = 0  # > 0 while the world runs during a call in flight: no timed faults there

    def at(self, name: str) -> FaultKind | None:
        kinds = KINDS_AT[name]
        if self.depth:
            kinds = tuple(k for k in kinds if k not in TIMED)
        point = Point(len(self.points), self.clock(), name, kinds)
        self.points.append(point)
        kind = self.plan.choose(point)
        if kind is not None:
            fault = Fault(point.index, point.at, name, kind)
            self.faults.append(fault)
            self.on_fault(fault)
        return kind

    def rng(self) -> random.Random:
        """Randomness for the parameters of the fault just injected (a delay, a Retry-After), from a stream of its
        own, so that injecting a fault never shifts the draws of anything else."""
        return random.Random(f"fault-params:{self.seed}:{len(self.points)}")

    def kinds_seen(self) -> Iterable[FaultKind]:
        return (fault.kind for fault in self.faults)
