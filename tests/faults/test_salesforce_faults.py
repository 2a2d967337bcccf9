"""Salesforce expiring the session every few calls, and refusing calls with REQUEST_LIMIT_EXCEEDED."""

from __future__ import annotations

from datetime import UTC, datetime

from connector.store import JobState
from tests.faults.conftest import assert_completed_once, done, sign_all, start_deal, the_job, wait_until_due


def test_sessions_expiring_every_few_calls_mean_a_new_login_and_the_signing_completes(world):
    world.salesforce.faults.expire_sessions_every(2)
    opportunity_id = start_deal(world, "Umbrella Sessions")

    world.daemon.run_once()
    world.settle(until=lambda: the_job(world).state == JobState.AWAITING)
    sign_all(world, "Umbrella Sessions")
    world.settle(until=lambda: done(world))

    expired = [where for _, kind, where in world.salesforce.faults.log if kind == "session_expired"]
    assert len(expired) >= 3  # every second call of: poll, download, Composite "Sent", Composite "Completed"
    assert set(expired) <= set(world.salesforce.api_calls)  # each refused call went through after a login
    assert_completed_once(world, opportunity_id)


def test_request_limit_exceeded_backs_the_job_off_and_it_completes_once_the_limit_clears(world):
    opportunity_id = start_deal(world, "Umbrella Limits")
    world.daemon.run_once()
    world.settle(until=lambda: the_job(world).state == JobState.AWAITING)
    calls_before = world.salesforce.total_api_calls
    world.salesforce.faults.exceed_limit(exhausted=True)

    sign_all(world, "Umbrella Limits")
    world.settle(until=lambda: "REQUEST_LIMIT_EXCEEDED" in (the_job(world).last_error or ""))
    wait_until_due(world)
    world.daemon.work()

    job = the_job(world)
    assert job.state == JobState.COMPLETING  # backing off, not parked
    # Salesforce asking us to slow down is not a failed attempt: however long it lasts, the job is never parked.
    assert job.attempts == 0 and "REQUEST_LIMIT_EXCEEDED" in job.last_error
    assert job.next_run_at > datetime.now(UTC)
    refused = [where for _, kind, where in world.salesforce.faults.log if kind == "limit_exceeded"]
    assert len(refused) >= 2 and refused[0] == "POST /composite"  # the writeback, then the checks before it
    assert set(refused) <= {"POST /composite", "GET /query"}
    assert world.salesforce.total_api_calls == calls_before  # refused calls do not count
    record = world.salesforce.get_record("Opportunity", opportunity_id)
    assert record["Signing_Status__c"] == "Sent"

    world.salesforce.faults.exceed_limit()  # the allocation frees up
    wait_until_due(world)
    world.daemon.work()
    assert_completed_once(world, opportunity_id)
