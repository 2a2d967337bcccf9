"""CI mode: 2,000 random seeds, each a full run of the real daemon with faults injected, and every invariant checked.

The seeds are fixed (0..1999), so the test is deterministic. A failure names each failing seed with the one
command that replays it and the ordered list of the faults it injected. SIM_CI_SEEDS and SIM_CI_PROCESSES change
the size and the number of processes (default: 2, one per core of the CI machine).
"""

from __future__ import annotations

import os

from tests.simulation.explore import explore_in_processes
from tests.simulation.faults import ALL_KINDS, known_fault_pairs
from tests.simulation.result import RunConfig

SEEDS = int(os.environ.get("SIM_CI_SEEDS", "2000"))
PROCESSES = int(os.environ.get("SIM_CI_PROCESSES", "2"))


def test_random_seeds_break_no_invariant(report):
    summary = explore_in_processes(RunConfig(seed=0), range(SEEDS), processes=PROCESSES)
    line = summary.line()
    report(f"{line}\nfaults by kind: " + ", ".join(f"{k} {n}" for k, n in sorted(summary.kinds.items())))
    assert summary.runs == SEEDS
    assert not summary.failures, f"{line}\n{len(summary.failures)} failing seed(s):\n{summary.failure_report(20)}"
    assert summary.faults_injected >= SEEDS, line  # about two per run; far fewer means injection broke
    assert set(summary.kinds) == ALL_KINDS, f"{line}: never injected: {sorted(ALL_KINDS - set(summary.kinds))}"
    left_out = known_fault_pairs() & set(summary.pairs)
    assert not left_out, f"the known engine windows must stay out of the CI exploration: {sorted(left_out)}"
