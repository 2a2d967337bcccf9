"""check-mappings --against-org, with the real client describing the simulated org."""

from __future__ import annotations

from config.settings import WritebackFields
from connector.org_check import check_against_org
from mappings.loader import load_mapping

RULES = """version: 1
rules:
  - id: good
    trigger: {stages: [Contract Sent]}
    provider: signrequest
    signers: [{role: Decision Maker}]
    cancel_on: [Closed Lost]
  - id: bad
    trigger:
      stages: [Contract Signed]
    provider: signrequest
    signers:
      - role: Decision Maker
      - role: Approver
"""


def test_stages_roles_and_fields_are_checked_against_the_org(org, tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(RULES)
    sf = org.client()
    before = org.sim.total_api_calls
    problems = [str(p) for p in check_against_org(
        load_mapping(path), path, lambda name: getattr(sf, name).describe(),
        WritebackFields(_env_file=None, status="Signing_State__c"))]
    assert org.sim.total_api_calls - before == 2
    assert problems[0].startswith(f"{path}:10:16: rule bad: stage 'Contract Signed' is not an active Opportunity "
                                  "stage in this org (stages: Closed Lost, Closed Won, Contract Sent")
    assert problems[1].startswith(f"{path}:14:15: rule bad: contact role 'Approver' is not an active "
                                  "OpportunityContactRole.Role value")
    assert problems[2] == (f"{path}:1:1: write-back field Signing_State__c (CONNECTOR_FIELD_STATUS) does not exist "
                           "on Opportunity; create it")
    assert len(problems) == 3


def test_a_fitting_mapping_has_no_problems(org, tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(RULES.split("  - id: bad")[0])
    sf = org.client()
    assert check_against_org(load_mapping(path), path, lambda name: getattr(sf, name).describe(),
                             WritebackFields(_env_file=None)) == []


PER_RULE = """version: 1
rules:
  - id: moves
    trigger: {stages: [Contract Sent]}
    provider: signrequest
    signers: [{role: Decision Maker}]
    writeback:
      status: Deal_Signing__c
      decline_reason: Signing_Decline_Reason__c
      sent_at: LastStageChangeDate
      request_id: null
    move_to_stage_on: {completed: Closed Won, declined: Needs Analysis}
"""


def test_per_rule_fields_and_move_to_stages_are_checked_against_the_org(org, tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(PER_RULE)
    sf = org.client()
    problems = [str(p).removeprefix(f"{path}:") for p in check_against_org(
        load_mapping(path), path, lambda name: getattr(sf, name).describe(), WritebackFields(_env_file=None))]
    assert problems == [
        "8:15: rule moves: writeback.status field Deal_Signing__c does not exist on Opportunity; create it or "
        "correct the API name",
        "10:16: rule moves: writeback.sent_at field LastStageChangeDate is not updateable by the integration user; "
        "grant edit access or name another field",
        "12:57: rule moves: move_to_stage_on.declined stage 'Needs Analysis' is not an active Opportunity stage in "
        "this org (stages: Closed Lost, Closed Won, Contract Sent, Negotiation, Proposal, Prospecting, "
        "Qualification)",
    ]


def test_per_rule_fields_that_exist_pass(org, tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(PER_RULE.replace("      status: Deal_Signing__c\n", "").replace(
        "      sent_at: LastStageChangeDate\n", "").replace("Needs Analysis", "Qualification"))
    sf = org.client()
    assert check_against_org(load_mapping(path), path, lambda name: getattr(sf, name).describe(),
                             WritebackFields(_env_file=None, signing_url="Signing_URL__c")) == []
