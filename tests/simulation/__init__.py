"""Deterministic simulation of the connector: the real engine, planner, store, poller, dispatcher and writeback
batcher around in-memory ports, on a simulated clock, with faults injected at every port call, every store commit
and every callback, and the exactly-once invariants checked after each run.

    pytest tests/simulation -s                         # CI: 2,000 seeds, exhaustive single faults, known windows
    python -m tests.simulation --seeds 2000             # explore random seeds (soak: --seeds 1000000 --processes 2,
                                                        #   or SIM_SOAK_SEEDS=1000000)
    python -m tests.simulation --replay 1234 [--trace]  # replay one seed exactly: its faults, invariants, trace
    python -m tests.simulation --exhaustive             # every injection point x fault kind of one signing
    ... --postgres                                      # on $CONNECTOR_TEST_POSTGRES_URL instead of SQLite

Where things are:
- harness.py: one run, and the model (what a crash, a timeout, a slow reply and a lease expiry mean here).
- faults.py: the fault kinds, where each applies, and KNOWN_ENGINE_BUGS, the windows the engine still has.
- faulty_ports.py, faulty_store.py, callbacks.py: where faults are injected. invariants.py: what is checked.
- world.py, sim_provider.py, sim_crm.py, scenario.py: the outside world. explore.py: many runs, exhaustive mode.
"""
