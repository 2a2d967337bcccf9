"""check-mappings --against-org, with the real client describing the simulated org."""

from __future__ import annotations

from config.settings import WritebackFields
from connector.admin.org_check import check_against_org
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


FIELDS_RULES = """version: 1
rules:
  - id: fields
    trigger:
      stages: [Contract Sent]
      filter:
        record_types: [New_Business]
        amount: {min: 1000}
        field_equals: {Typ: New Customer, Region__c: EMEA, Account.Industry: Retail}
    provider: signrequest
    signers: [{role: Decision Maker}]
    subject: "{{Opportunity.Name}} in {{Account.BillingCity}} for {{Account.Segment__c}}"
    message: "{{Owner.Title}} {{Owner.Phone}} {{Opportunity.CloseDate}} {{Signer1.Email}}"
"""


def test_fields_that_filters_and_merge_fields_read_must_exist_in_the_org(org, tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(FIELDS_RULES)
    sf = org.client()
    described: list[str] = []

    def describe(name: str) -> dict:
        described.append(name)
        return getattr(sf, name).describe()

    problems = [str(p) for p in check_against_org(load_mapping(path), path, describe,
                                                  WritebackFields(_env_file=None))]
    assert problems == [
        f"{path}:9:24: rule fields: field Typ does not exist on Opportunity in this org; did you mean Type? (the poll "
        "query would fail)",
        f"{path}:9:43: rule fields: field Region__c does not exist on Opportunity in this org (the poll query would "
        "fail)",
        f"{path}:12:14: rule fields: field Account.Segment__c does not exist on Account in this org (the poll query "
        "would fail)",
    ]
    assert sorted(described) == ["Account", "Opportunity", "OpportunityContactRole", "RecordType", "User"]


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
        "Qualification, Verbal Commitment)",
    ]


def test_per_rule_fields_that_exist_pass(org, tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(PER_RULE.replace("      status: Deal_Signing__c\n", "").replace(
        "      sent_at: LastStageChangeDate\n", "").replace("Needs Analysis", "Qualification"))
    sf = org.client()
    assert check_against_org(load_mapping(path), path, lambda name: getattr(sf, name).describe(),
                             WritebackFields(_env_file=None, signing_url="Signing_URL__c")) == []
