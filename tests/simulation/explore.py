"""Many runs: random seeds (CI and soak), and the exhaustive enumeration of one signing's injection points.

Invariant of the exhaustive mode: the clean run's injection points are recorded first, then each (point, kind)
pair that applies there is run once with exactly that fault, so `covered == total` means every single fault at
every point of that signing was tried, not a sample of them.
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from tests.simulation.environment import PostgresDatabase, SimEnvironment, postgres_url_from_env
from tests.simulation.faults import FaultKind, KnownBug
from tests.simulation.harness import run
from tests.simulation.result import RunConfig, RunResult


@dataclass
class Summary:
    runs: int = 0
    invariants_checked: int = 0
    faults_injected: int = 0
    seconds: float = 0.0
    failures: list[RunResult] = field(default_factory=list)
    kinds: Counter = field(default_factory=Counter)  # faults injected, by kind
    pairs: Counter = field(default_factory=Counter)  # faults injected, by (kind, point)

    def add(self, result: RunResult) -> None:
        self.runs += 1
        self.invariants_checked += result.invariants_checked
        self.faults_injected += len(result.faults)
        self.kinds.update(fault.kind for fault in result.faults)
        self.pairs.update((fault.kind, fault.point) for fault in result.faults)
        if not result.ok:
            self.failures.append(result)

    def line(self) -> str:
        rate = self.runs / self.seconds if self.seconds else 0.0
        return (f"seeds explored: {self.runs}, invariants checked: {self.invariants_checked}, "
                f"faults injected: {self.faults_injected} ({self.seconds:.1f}s, {rate:.1f} seeds/s)")

    def failure_report(self, limit: int = 5) -> str:
        shown = [result.report() for result in self.failures[:limit]]
        more = len(self.failures) - limit
        return "\n".join(shown + ([f"... and {more} more failing seed(s)"] if more > 0 else []))


def explore(seeds: Iterable[int], env: SimEnvironment, make: Callable[[int], RunConfig] = RunConfig,
            on_result: Callable[[RunResult], None] = lambda result: None) -> Summary:
    summary = Summary()
    started = time.perf_counter()
    for seed in seeds:
        result = run(make(seed), env)
        summary.add(result)
        on_result(result)
    summary.seconds = time.perf_counter() - started
    return summary


def merge(parts: Iterable[Summary]) -> Summary:
    total = Summary()
    for part in parts:
        total.runs += part.runs
        total.invariants_checked += part.invariants_checked
        total.faults_injected += part.faults_injected
        total.kinds.update(part.kinds)
        total.pairs.update(part.pairs)
        total.failures += part.failures
        total.seconds = max(total.seconds, part.seconds)
    total.failures.sort(key=lambda result: result.config.seed)
    return total


@contextmanager
def environment(postgres: bool = False) -> Iterator[SimEnvironment]:
    """SQLite in a temporary directory, or a PostgreSQL database of its own on $CONNECTOR_TEST_POSTGRES_URL."""
    database = None
    if postgres:
        base = postgres_url_from_env()
        if not base:
            sys.exit("--postgres needs CONNECTOR_TEST_POSTGRES_URL=postgresql+psycopg://user@host:5432/db")
        database = PostgresDatabase(base)
    env = SimEnvironment(database.url if database else None)
    try:
        yield env
    finally:
        env.close()
        if database:
            database.close()


class _Progress:
    """For long explorations: each failing seed's replay command at once, and a count every `every` runs."""

    def __init__(self, every: int | None):
        self.every = every
        self.runs = 0

    def __call__(self, result: RunResult) -> None:
        self.runs += 1
        if not result.ok:
            print(f"FAILED seed {result.config.seed}: {result.replay_command()}", flush=True)
        if self.every and self.runs % self.every == 0:
            print(f"... {self.runs} seeds in this process", flush=True)


def _explore_slice(job: tuple[RunConfig, bool, range, int | None]) -> Summary:
    template, postgres, seeds, progress_every = job
    with environment(postgres) as env:
        summary = explore(seeds, env, lambda seed: replace(template, seed=seed), _Progress(progress_every))
    for failure in summary.failures:
        failure.trace = []  # what goes back to the parent process stays small
    return summary


def explore_in_processes(template: RunConfig, seeds: range, *, processes: int = 1, postgres: bool = False,
                         progress_every: int | None = None) -> Summary:
    """`explore` of every seed in `seeds` with `template`'s settings, split over `processes` (each with its own
    database); the failures come back without their traces (a replay prints it). Failing seeds are also printed
    as they are found, and with `progress_every` a count every so many seeds."""
    processes = max(1, processes)
    jobs = [(template, postgres, seeds[offset::processes], progress_every) for offset in range(processes)]
    if processes == 1:
        return merge([_explore_slice(jobs[0])])
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        return merge(pool.map(_explore_slice, jobs))


@dataclass
class Exhaustive:
    scenario: str
    points: int  # injection points in the clean run
    total: int  # (point, kind) pairs that apply
    covered: int = 0
    clean: RunResult | None = None
    failures: list[RunResult] = field(default_factory=list)
    seconds: float = 0.0

    def by_window(self) -> dict[tuple[FaultKind | str, str], list[RunResult]]:
        """The failing runs grouped by their (first) fault's (kind, point): one entry per distinct window."""
        windows: dict[tuple[FaultKind | str, str], list[RunResult]] = {}
        for result in self.failures:
            key = (result.faults[0].kind, result.faults[0].point) if result.faults else ("no fault", "clean run")
            windows.setdefault(key, []).append(result)
        return windows

    def line(self) -> str:
        return (f"scenario {self.scenario}: crash points covered: {self.covered} of {self.total} "
                f"({self.points} injection points, {len(self.failures)} failing, {self.seconds:.1f}s)")


def exhaustive(scenario: str, env: SimEnvironment, *, seed: int = 0,
               only: Callable[[FaultKind, str], bool] = lambda kind, point: True,
               then: tuple[tuple[FaultKind, str], ...] = ()) -> Exhaustive:
    """Run `scenario` once without faults, then once for each (point, kind) of that run that `only` lets through
    (and, after it, the follow-up faults `then`: see ScriptedFaults)."""
    started = time.perf_counter()
    clean = run(RunConfig(seed=seed, scenario=scenario, inject=()), env)
    pairs = [(point.index, kind) for point in clean.points for kind in point.kinds if only(kind, point.name)]
    outcome = Exhaustive(scenario, len(clean.points), len(pairs), clean=clean)
    if not clean.ok:
        outcome.failures.append(clean)
    for index, kind in pairs:
        result = run(RunConfig(seed=seed, scenario=scenario, inject=((index, kind),), then=then), env)
        if [(f.index, f.kind) for f in result.faults[:1]] == [(index, kind)]:
            outcome.covered += 1
        if not result.ok:
            outcome.failures.append(result)
    outcome.seconds = time.perf_counter() - started
    return outcome


def reproduce(bug: KnownBug, env: SimEnvironment, seeds: Iterable[int] = range(3)) -> list[RunResult]:
    """The runs of `bug.scenario` (one exhaustive pass per seed) where `bug.shown_by` breaks an invariant."""
    (kind, point), then = bug.shown_by[0], bug.shown_by[1:]
    failures: list[RunResult] = []
    for seed in seeds:
        outcome = exhaustive(bug.scenario, env, seed=seed, then=then,
                             only=lambda k, p: (k, p) == (kind, point))
        failures += [result for result in outcome.failures if result.faults]
    return failures
