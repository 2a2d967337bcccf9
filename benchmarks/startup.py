"""Startup: from launching `run_connector.py run` (fresh state database) to /healthz answering 200."""

from __future__ import annotations

import statistics

from benchmarks.figures import Figure
from benchmarks.profiles import Profile
from benchmarks.world import Conditions, Session


def run(profile: Profile, conditions: Conditions) -> list[Figure]:
    times = []
    for _ in range(profile.startup_runs):
        session = Session(conditions)
        with session:
            times.append(session.ready_seconds)
    return [Figure("startup", "daemon ready (health answering), median", statistics.median(times), "s", 1.5, "<",
                   f"{len(times)} cold starts", "each: " + ", ".join(f"{t:.2f}s" for t in times))]
