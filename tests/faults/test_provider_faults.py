"""A provider failing the create call: 5xx, 429 with Retry-After, a reply held past the client's timeout,
a connection reset. The daemon retries, and never sends a second request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connector.store import JobState
from tests.faults.conftest import assert_completed_once, done, sign_all, start_deal, the_job, wait_until_due

CREATE = "POST /api/v1/signrequest-quick-create/"


def _complete(world, name: str, timeout: float = 10.0) -> None:
    sign_all(world, name)
    world.settle(until=lambda: done(world), timeout=timeout)


def test_a_5xx_on_create_is_retried_and_one_request_is_made(world):
    world.signrequest.faults.add_http(CREATE, server_error=1.0, times=1)
    opportunity_id = start_deal(world, "Acme Five")

    world.daemon.run_once()
    world.settle(until=lambda: the_job(world).state == JobState.AWAITING)

    assert world.signrequest.faults.counts() == {"5xx": 1}
    assert world.signrequest.create_calls == 1  # the 503 was answered before anything was created
    _complete(world, "Acme Five")
    assert_completed_once(world, opportunity_id)


def test_a_429_on_create_waits_the_retry_after_then_sends_once(world):
    world.signrequest.faults.add_http(CREATE, throttle=1.0, times=1, retry_after=3)
    opportunity_id = start_deal(world, "Acme Throttled")

    world.daemon.run_once()

    [(throttled_at, kind, where)] = world.signrequest.faults.log
    assert (kind, where) == ("429", CREATE)
    job = the_job(world)
    # A 429 is the provider asking us to slow down, not a failed attempt: it never uses up the job's attempts.
    assert (job.state, job.attempts, world.signrequest.create_calls) == (JobState.NEW, 0, 0)
    answered = datetime.fromtimestamp(throttled_at, UTC)
    # Retry-After wins over the 0.05 s base backoff; the engine adds up to 25 % jitter.
    assert answered + timedelta(seconds=3) <= job.next_run_at <= answered + timedelta(seconds=3 * 1.25 + 1)
    world.daemon.work()
    assert world.signrequest.create_calls == 0  # not due yet: nothing is sent early

    wait_until_due(world)
    world.daemon.work()
    assert the_job(world).state == JobState.AWAITING and world.signrequest.create_calls == 1
    _complete(world, "Acme Throttled")
    assert_completed_once(world, opportunity_id)


@pytest.mark.parametrize(("fault", "name"), [
    ({"timeout": 1.0, "hold_seconds": 2}, "Acme Slow"),  # the daemon's client gives up after 1 s
    ({"reset": 1.0}, "Acme Reset"),
])
def test_a_create_whose_reply_is_lost_is_found_by_external_id_not_sent_again(world, fault, name):
    world.signrequest.faults.add_http(CREATE, times=1, **fault)
    opportunity_id = start_deal(world, name)

    world.daemon.run_once()
    world.settle(until=lambda: the_job(world).state == JobState.AWAITING)

    assert world.signrequest.faults.counts() == {next(iter(fault)): 1}
    job = the_job(world)
    [document] = world.signrequest.documents()  # created by the call whose answer never came
    assert document["external_id"] == job.id and job.request_id == document["uuid"]
    assert world.signrequest.create_calls == 1
    _complete(world, name)
    assert_completed_once(world, opportunity_id)


def test_status_reads_that_fail_at_random_still_complete_the_signing(world):
    world.signrequest.faults.add_http("GET /api/v1/documents/*", server_error=0.15, throttle=0.1, reset=0.1,
                                      retry_after=0.1)
    opportunity_id = start_deal(world, "Acme Flaky")
    world.daemon.run_once()
    world.settle(until=lambda: the_job(world).state == JobState.AWAITING, timeout=30)
    _complete(world, "Acme Flaky", timeout=30)

    assert sum(world.signrequest.faults.counts().values()) > 0
    assert_completed_once(world, opportunity_id)
