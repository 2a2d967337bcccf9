"""How big each benchmark runs. `default` fits in 10 minutes on 2 cores; `soak` has the issue's full sizes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    economy_signings: int  # amortised Salesforce calls: signings in one batch
    economy_budget: float  # seconds to wait for them all to complete
    bulk_opportunities: int  # moved into the trigger stage at once
    bulk_budget: float
    ingest_seconds: float  # webhook load duration
    ingest_connections: int
    completions: int  # signed at `completion_rate` a second
    completion_rate: float
    completion_budget: float
    memory_sizes_mb: tuple[int, ...]
    memory_jobs: int  # signings run end to end for RSS flatness
    memory_budget: float
    startup_runs: int
    # replicas (benchmarks/replicas.py): run for each count of replicas, on PostgreSQL
    replicas_counts: tuple[int, ...] = (1, 2, 3)
    replicas_opportunities: int = 1000  # moved at once, then all signed
    replicas_latency_signings: int = 100  # then signed at replicas_signing_rate a second
    replicas_signing_rate: float = 5.0
    replicas_failover_deals: int = 100  # moved while a follower is killed
    replicas_budget: float = 300.0
    # trigger-latency (benchmarks/trigger_latency.py): deals moved one by one, push on then off; the poll
    # interval of the push-off run (the product's default is 30 s)
    trigger_deals: int = 20
    trigger_poll_seconds: float = 30.0
    only: tuple[str, ...] = ()  # the benchmarks this profile runs by default (empty: all but replicas)


FULL = dict(economy_signings=1000, bulk_opportunities=10_000, memory_jobs=10_000)

PROFILES = {
    "quick": Profile("quick", economy_signings=3, economy_budget=60, bulk_opportunities=4, bulk_budget=30,
                     ingest_seconds=1, ingest_connections=8, completions=4, completion_rate=100,
                     completion_budget=30, memory_sizes_mb=(1,), memory_jobs=5, memory_budget=60, startup_runs=1,
                     replicas_counts=(1, 2), replicas_opportunities=20, replicas_latency_signings=10,
                     replicas_failover_deals=100, replicas_budget=90, trigger_deals=4, trigger_poll_seconds=5),
    "default": Profile("default", economy_signings=1000, economy_budget=300, bulk_opportunities=1000,
                       bulk_budget=60, ingest_seconds=10, ingest_connections=32, completions=300,
                       completion_rate=100, completion_budget=60, memory_sizes_mb=(1, 10, 100), memory_jobs=400,
                       memory_budget=75, startup_runs=3),
    "soak": Profile("soak", economy_signings=1000, economy_budget=3600, bulk_opportunities=10_000, bulk_budget=3600,
                    ingest_seconds=60, ingest_connections=64, completions=6000, completion_rate=100,
                    completion_budget=1800, memory_sizes_mb=(1, 10, 100), memory_jobs=10_000, memory_budget=3600,
                    startup_runs=5, trigger_deals=200),
    # `--profile replicas`: N = 1, 2, 3 replicas on PostgreSQL, side by side, at the sizes.
    "replicas": Profile("replicas", economy_signings=0, economy_budget=0, bulk_opportunities=0, bulk_budget=0,
                        ingest_seconds=0, ingest_connections=0, completions=0, completion_rate=0, completion_budget=0,
                        memory_sizes_mb=(), memory_jobs=0, memory_budget=0, startup_runs=0, only=("replicas",)),
}


def size_label(profile: Profile, measured: int, full: int, unit: str) -> str:
    """'1,000 signings (soak: 10,000)' when scaled down, else '10,000 signings'."""
    if measured >= full:
        return f"{measured:,} {unit}"
    return f"{measured:,} {unit} (scaled; soak: {full:,})"
