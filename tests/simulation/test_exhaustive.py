"""Exhaustive mode: for one signing, every fault kind at every injection point of its clean run, one at a time.

Runs whose single fault is one of the engine's known windows (faults.KNOWN_ENGINE_BUGS) may break an invariant
and are listed; any other failing run fails the test with its replay command.
"""

from __future__ import annotations

import pytest

from tests.simulation.explore import exhaustive
from tests.simulation.faults import KNOWN_ENGINE_BUGS

KNOWN = {pair for bug in KNOWN_ENGINE_BUGS.values() for pair in (*bug.leave_out, bug.shown_by[0])
         if not bug.avoid}
# The ports each scenario's clean run must reach, so that the enumeration covers them.
REACHED = {
    "complete": {"crm.poll_opportunities", "crm.download_file", "provider.create", "provider.signing_url",
                 "crm.apply", "provider.get_status", "provider.send_reminder", "provider.download_signed",
                 "provider.download_evidence", "callback", "store.create_jobs", "store.claim_due_jobs",
                 "store.save_job", "store.record_events", "store.settle_events", "store.set_value"},
    "decline": {"provider.create", "crm.apply", "provider.get_status", "callback", "store.record_events"},
    "cancel": {"provider.create", "provider.get_status", "provider.cancel", "store.request_cancel", "crm.apply"},
}


@pytest.mark.parametrize("scenario", sorted(REACHED))
def test_every_single_fault_at_every_point_of_one_signing(sim_env, scenario, report):
    outcome = exhaustive(scenario, sim_env)
    report(outcome.line())
    assert outcome.clean is not None and outcome.clean.ok, outcome.clean.report() if outcome.clean else ""
    assert REACHED[scenario] <= {point.name for point in outcome.clean.points}
    assert outcome.total > 100 and outcome.covered == outcome.total, outcome.line()
    expected = [r for r in outcome.failures if (r.faults[0].kind, r.faults[0].point) in KNOWN]
    for result in expected:
        print(f"  known window: {result.fault_lines()[0]} -> {result.replay_command()}")
    unexpected = [r for r in outcome.failures if r not in expected]
    assert not unexpected, "\n".join(r.report() for r in unexpected)
