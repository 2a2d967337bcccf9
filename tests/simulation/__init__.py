"""Deterministic simulation of the connector: the real engine, planner, store, poller, dispatcher and writeback
batcher around in-memory ports, on a simulated clock, with faults injected at every port call, every store commit
and every callback, and the exactly-once invariants checked after each run.

    python -m tests.simulation --seeds 2000            # explore random seeds (soak: --seeds 1000000)
    python -m tests.simulation --replay 1234            # replay one seed exactly, with its fault list
    python -m tests.simulation --exhaustive             # every injection point x fault kind of one signing

See harness.py for the model (what a crash, a timeout, a slow reply and a lease expiry mean here).
"""
