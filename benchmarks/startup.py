"""Startup: from launching `run_connector.py run` (fresh state database) to /healthz answering 200.

The project's modules are compiled to bytecode first, as an installed package is: with
PYTHONDONTWRITEBYTECODE set (as on some machines) every start would otherwise compile them again,
which doubles the time measured."""

from __future__ import annotations

import compileall
import statistics

from benchmarks.figures import Figure
from benchmarks.profiles import Profile
from benchmarks.world import Conditions, Session
from config.settings import REPO_ROOT

PACKAGES = ("adapters", "config", "connector", "mappings")


def run(profile: Profile, conditions: Conditions) -> list[Figure]:
    for package in PACKAGES:
        compileall.compile_dir(REPO_ROOT / package, quiet=1)
    times = []
    for _ in range(profile.startup_runs):
        session = Session(conditions)
        with session:
            times.append(session.ready_seconds)
    return [Figure("startup", "daemon ready (health answering), median", statistics.median(times), "s", 1.5, "<",
                   f"{len(times)} cold starts", "each: " + ", ".join(f"{t:.2f}s" for t in times))]
