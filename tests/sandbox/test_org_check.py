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
