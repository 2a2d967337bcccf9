"""check-mappings --against-org, push triggers: asked of the simulated org's Pub/Sub API."""

from __future__ import annotations

import pytest

from config.settings import Settings
from connector.admin.cdc_check import push_trigger_report
from tests.salesforce.pubsub import feed, running_pubsub


@pytest.fixture
def selected(server):
    sim = server[0]
    yield sim.bus.selected
    sim.bus.selected = {"Opportunity"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_pubsub(tmp_path_factory.mktemp("tls")) as running:
        yield running


def settings(enabled: bool) -> Settings:
    return Settings(_env_file=None, salesforce_cdc_enabled=enabled)


def test_push_on_with_opportunity_selected_is_fine(server):
    line, problem = push_trigger_report(settings(True), feed(server))
    assert not problem
    assert line.startswith("push triggers: on, /data/OpportunityChangeEvent exists and the integration user may "
                           "subscribe to it")


def test_push_on_without_change_data_capture_for_opportunity_is_a_problem_that_says_what_to_do(server,
                                                                                              selected):
    server[0].bus.selected = set()
    line, problem = push_trigger_report(settings(True), feed(server))
    assert problem
    assert "cannot subscribe to /data/OpportunityChangeEvent" in line and "NOT_FOUND" in line
    assert "move Opportunity to Selected Entities" in line and "CONNECTOR_SALESFORCE_CDC_ENABLED=false" in line


def test_push_off_says_what_switching_it_on_would_take(server, selected):
    server[0].bus.selected = set()
    line, problem = push_trigger_report(settings(False), feed(server))
    assert not problem
    assert line.startswith("push triggers: off (polling every 30s)") and "CDC_ENABLED=true" in line
    server[0].bus.selected = {"Opportunity"}
    line, problem = push_trigger_report(settings(False), feed(server))
    assert not problem and "though /data/OpportunityChangeEvent exists" in line
