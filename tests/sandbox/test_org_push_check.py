"""check-mappings --against-org, push part: the outbound messages the simulated org has, read through the
real client's Tooling API call, against the connector's endpoint URL."""

from __future__ import annotations

import pytest

from config.settings import Settings
from connector.admin.org_push import check_outbound_messages
from sandbox.salesforce_sim.ids import ORG_ID

TOKEN = "push-check-token-0123456789abc"
BASE = "https://connector.example.com"


@pytest.fixture
def tooling(org):
    org.sim.outbound.action = None  # no outbound message set up yet
    sf = org.client()
    yield lambda soql: sf.toolingexecute("query/", params={"q": soql})
    org.sim.outbound.action = None


def _settings(**values) -> Settings:
    return Settings(_env_file=None, public_base_url=BASE, salesforce_org_id=ORG_ID, **values)


def test_without_a_token_the_check_only_says_push_is_off_and_calls_nothing(org, tooling):
    before = org.sim.total_api_calls
    found = check_outbound_messages(Settings(_env_file=None), tooling)
    assert found.problems == [] and "push by Outbound Message is off" in found.notes[0]
    assert org.sim.total_api_calls == before


def test_a_missing_outbound_message_is_a_problem_that_names_the_url_but_not_the_token(tooling):
    found = check_outbound_messages(_settings(salesforce_outbound_message_token=TOKEN), tooling)
    [problem] = found.problems
    assert problem.startswith("no outbound message on Opportunity sends to this connector: create one with "
                              f"Endpoint URL {BASE}/salesforce/outbound-messages/"
                              "<CONNECTOR_SALESFORCE_OUTBOUND_MESSAGE_TOKEN>")
    assert TOKEN not in problem


def test_an_outbound_message_sending_elsewhere_does_not_count(org, tooling):
    org.sim.outbound.configure("https://other.example.com/listener")
    found = check_outbound_messages(_settings(salesforce_outbound_message_token=TOKEN), tooling)
    assert found.problems[0].startswith("no outbound message on Opportunity sends to this connector (1 on "
                                        "Opportunity send elsewhere)")


def test_the_connectors_outbound_message_is_found_and_checked_against_the_action_ids(org, tooling):
    action_id = org.sim.outbound.configure(f"{BASE}/salesforce/outbound-messages/{TOKEN}", ("Id", "StageName"))
    good = check_outbound_messages(_settings(salesforce_outbound_message_token=TOKEN,
                                             salesforce_outbound_message_action_ids=action_id), tooling)
    assert good.problems == []
    assert good.notes == [f"outbound message 'Signing stage change' ({action_id}) sends to this connector; make "
                          "sure an active record-triggered Flow on Opportunity (StageName Is Changed) sends it"]
    other = check_outbound_messages(_settings(salesforce_outbound_message_token=TOKEN,
                                              salesforce_outbound_message_action_ids="04k5g0000000001AAA"), tooling)
    assert other.problems == [f"outbound message 'Signing stage change' ({action_id}) is not in "
                              "CONNECTOR_SALESFORCE_OUTBOUND_MESSAGE_ACTION_IDS: its messages would be refused (403); "
                              "add its Id"]
