"""The trigger decision alone: no store, no CRM, the same answer whichever source asks."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from connector.ports.crm import Opportunity
from connector.store.jobs import JobState, LatestJob
from connector.triggers.decision import decide, entry_key
from mappings.loader import parse_mapping

MAPPING = parse_mapping("""
version: 1
rules:
  - id: quote
    trigger: {stages: ["Contract Sent"], on_entry_only: true, filter: {amount: {min: 1000}}}
    provider: signrequest
    signers: [{role: Decision Maker}]
    cancel_on: ["Closed Lost"]
    retrigger_after: [declined]
""")
[RULE] = MAPPING.rules
ENTERED = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
DEAL = Opportunity(id="006000000000001AAA", name="Deal", stage="Contract Sent", system_modstamp=ENTERED,
                   stage_changed_at=ENTERED, values={"Amount": 5000})


def _latest(state: JobState, outcome: str | None = None, key: str = "quote:006000000000001AAA:earlier") -> dict:
    return {"quote": LatestJob(id="job-1", entry_key=key, state=state, outcome=outcome)}


def test_a_first_entry_starts_one_job_keyed_by_the_entry():
    decision = decide(MAPPING, DEAL, {})
    [start] = decision.starts
    assert (start.rule.id, start.entry_key) == ("quote", f"quote:{DEAL.id}:Contract Sent:{ENTERED.isoformat()}")
    assert decision.cancels == () and decision.not_started == ()


def test_the_same_entry_seen_again_starts_nothing_quietly():
    decision = decide(MAPPING, DEAL, _latest(JobState.AWAITING, key=entry_key(RULE, DEAL)))
    assert decision.starts == ()
    [skipped] = decision.not_started
    assert skipped.why == "this stage entry already has its job" and not skipped.notable


@pytest.mark.parametrize(("state", "outcome", "starts", "why"), [
    (JobState.AWAITING, None, False, "while job job-1 is still open"),
    (JobState.DONE, "completed", False, "ended completed, which its retrigger_after does not list"),
    (JobState.DONE, "declined", True, ""),
])
def test_a_re_entry_starts_again_only_after_an_outcome_the_rule_lists(state, outcome, starts, why):
    decision = decide(MAPPING, DEAL, _latest(state, outcome))
    assert bool(decision.starts) == starts
    if why:
        [skipped] = decision.not_started
        assert why in skipped.why and skipped.notable


def test_a_filter_mismatch_starts_nothing_and_says_why():
    decision = decide(MAPPING, replace(DEAL, values={"Amount": 10}), {})
    [skipped] = decision.not_started
    assert decision.starts == () and "amount" in skipped.why.lower() and not skipped.notable


def test_an_entry_before_the_window_fires_no_on_entry_rule_and_no_cancel():
    assert decide(MAPPING, DEAL, {}, entered_earlier=True).starts == ()
    lost = replace(DEAL, stage="Closed Lost")
    assert decide(MAPPING, lost, {}, entered_earlier=True).cancels == ()


def test_a_cancel_stage_cancels_the_rule_and_names_the_stage():
    [cancel] = decide(MAPPING, replace(DEAL, stage="Closed Lost"), {}).cancels
    assert cancel.rule.id == "quote" and "moved to stage 'Closed Lost'" in cancel.reason


def test_the_decision_depends_on_its_inputs_alone():
    latest = _latest(JobState.DONE, "declined")
    assert decide(MAPPING, DEAL, latest) == decide(MAPPING, DEAL, dict(latest))
