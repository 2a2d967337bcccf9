"""Each provider error class: what the opportunity shows, what the logs say, whether it retries."""

from __future__ import annotations

import logging

import pytest

from connector.ports.provider import (
    ProviderAuthError,
    ProviderQuotaError,
    ProviderRateLimited,
    ProviderTransientError,
    ProviderValidationError,
)
from connector.store import JobState

OPP = "006000000000001AAA"


@pytest.mark.parametrize(("error", "shown"), [
    (ProviderAuthError("SignRequest", "the API credentials were refused (POST answered 401)"),
     "FakeSign: the API credentials were refused (POST answered 401) — check the provider's API credentials"),
    (ProviderQuotaError("SignRequest", "no signing credits left"),
     "FakeSign: no signing credits left — top up the provider account"),
    (ProviderValidationError("SignRequest", "signers[0].email: Enter a valid email address."),
     "FakeSign: signers[0].email: Enter a valid email address. — correct the data named above"),
])
def test_permanent_errors_are_written_back_once_and_logged(world, caplog, error, shown):
    world.add_opportunity()
    world.provider.fail_next_create = error
    with caplog.at_level(logging.ERROR):
        world.daemon().run_once()
    [job] = world.daemon().store.list_jobs()
    assert (job.state, job.outcome) == (JobState.DONE, "failed")
    fields = world.crm.fields[OPP]
    assert fields["Signing_Status__c"] == "Error" and fields["Signing_Last_Error__c"].startswith(shown)
    assert shown in caplog.text and OPP in caplog.text
    world.clock.advance(hours=3)
    world.daemon().run_once()
    assert world.provider.create_calls == 0  # never retried


@pytest.mark.parametrize("error", [
    ProviderRateLimited("SignRequest", "429", retry_after=120),
    ProviderTransientError("SignRequest", "503 Service Unavailable"),
])
def test_passing_errors_are_retried_with_backoff_and_then_succeed(world, caplog, error):
    world.add_opportunity()
    world.provider.fail_next_create = error
    with caplog.at_level(logging.WARNING):
        world.daemon().run_once()
    [job] = world.daemon().store.list_jobs()
    # A 429 asks us to come back later: not a failed attempt (it would park the job after max_attempts).
    assert job.state == JobState.NEW and job.attempts == (0 if isinstance(error, ProviderRateLimited) else 1)
    assert "will retry step new" in caplog.text
    assert OPP not in world.crm.fields  # nothing shown to the rep for a passing fault
    if isinstance(error, ProviderRateLimited):
        assert (job.next_run_at - world.clock()).total_seconds() >= 120  # honours Retry-After
    world.clock.advance(hours=1)
    world.daemon().run_once()
    assert world.crm.fields[OPP]["Signing_Status__c"] == "Sent" and world.provider.create_calls == 1
