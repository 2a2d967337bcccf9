"""The Salesforce API budget guard end to end: the simulator reports usage in Sforce-Limit-Info, the
test sets that usage, and the daemon holds its Salesforce writes until usage falls."""

from __future__ import annotations

import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from connector.store import JobState
from tests.e2e.conftest import running_e2e
from tests.e2e.deals import make_deal, sign
from tests.e2e.status_command import run_status


@pytest.fixture
def e2e(tmp_path):
    with running_e2e(tmp_path, poll_interval_seconds=0.25, salesforce_api_usage_refresh_seconds=0.5) as world:
        yield world


def test_over_the_budget_the_completion_waits_then_lands_once_usage_falls(e2e, tmp_path):
    opportunity_id = make_deal(e2e.salesforce, "Budget Deal")
    e2e.salesforce.set_stage(opportunity_id, "Contract Sent")
    e2e.daemon.run_once()
    [job] = e2e.daemon.store.list_jobs()
    assert job.state == JobState.AWAITING

    e2e.salesforce.usage.used = 13_000  # other integrations spent the org's allocation (15,000)
    e2e.daemon.poll()
    assert e2e.daemon.budget.over()
    sign(e2e.signrequest, job.request_id, "dana@example.com")
    sign(e2e.signrequest, job.request_id, "eli.budgetdeal@example.com")
    e2e.settle(until=lambda: e2e.daemon.store.get_job(job.id).state == JobState.COMPLETING)
    calls = e2e.salesforce.total_api_calls
    e2e.settle(timeout=1.0)
    held = e2e.daemon.store.get_job(job.id)
    assert (held.state, held.attempts, held.last_error) == (JobState.COMPLETING, 0, None)
    assert e2e.salesforce.total_api_calls == calls
    assert [f["title"] for f in e2e.salesforce.files_on(opportunity_id)] == ["Quote Q-9001"]

    metrics = requests.get(f"{e2e.daemon.settings.public_base_url}/metrics", timeout=5).text
    gauges = {s.name: s.value for family in text_string_to_metric_families(metrics) for s in family.samples}
    assert gauges["connector_salesforce_api_allocation_calls"] == 15_000
    assert gauges["connector_salesforce_api_usage_calls"] >= 13_000  # over the 0.8 share: what the alert sees
    assert gauges["connector_salesforce_api_budget_ratio"] == 0.8
    assert e2e.daemon.health()["salesforce_api"]["over_budget"] is True
    status = run_status(e2e.daemon.settings, tmp_path)
    assert "of 15,000 calls in 24 h" in status and "OVER BUDGET" in status

    e2e.salesforce.usage.used = 2_000  # the day's old calls rolled out of the 24 hours
    time.sleep(0.6)  # no Salesforce call for the refresh interval: the guard asks for the usage itself
    e2e.daemon.check_api_budget()
    assert e2e.salesforce.api_calls["GET /limits"] == 1 and not e2e.daemon.budget.over()
    e2e.settle(until=lambda: e2e.daemon.store.get_job(job.id).state == JobState.DONE)
    done = e2e.daemon.store.get_job(job.id)
    assert (done.state, done.outcome) == (JobState.DONE, "completed")
    titles = sorted(f["title"] for f in e2e.salesforce.files_on(opportunity_id))
    assert titles == ["Quote Q-9001", "Quote Q-9001 - evidence", "Quote Q-9001 - receipt", "Quote Q-9001 - receipt",
                      "Quote Q-9001 - signed"]
    status = run_status(e2e.daemon.settings, tmp_path)
    assert "OVER BUDGET" not in status and "budget 80%" in status


def test_over_the_budget_polls_reach_salesforce_four_times_less_often(e2e):
    e2e.salesforce.usage.used = 13_000
    e2e.daemon.poll()  # learns the usage
    assert e2e.daemon.budget.over()
    started = time.monotonic()
    e2e.daemon.poll()  # polls are now 4 x 0.25 s apart (less half an interval of slack for the scheduler)
    ended = time.monotonic()  # the poll was timed somewhere between `started` and `ended`
    before = e2e.salesforce.total_api_calls
    deadline = started + 0.8
    while time.monotonic() < deadline:
        e2e.daemon.poll()
        time.sleep(0.05)
    assert e2e.salesforce.total_api_calls == before
    time.sleep(max(0.0, ended + 0.95 - time.monotonic()))
    e2e.daemon.poll()
    assert e2e.salesforce.total_api_calls == before + 1
