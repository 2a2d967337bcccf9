"""One RetryPolicy for the HTTP clients' in-call retries and the job backoff."""

from __future__ import annotations

import pytest

from adapters.salesforce.client import SALESFORCE_CALLS
from adapters.transport.http import PROVIDER_CALLS
from connector.engine.job_steps import JOB_RETRY
from connector.ports.retry import RetryPolicy

STEADY = RetryPolicy(attempts=5, base_delay=0.5, cap=3.0, jitter=0.0)


def _lowest(low: float, high: float) -> float:
    return low


def _highest(low: float, high: float) -> float:
    return high


def test_delays_double_from_the_base_up_to_the_cap():
    assert [STEADY.delay(attempt) for attempt in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_a_wait_the_other_side_asked_for_replaces_the_backoff_and_is_capped():
    assert STEADY.delay(4, asked=1.5) == 1.5
    assert STEADY.delay(1, asked=10.0) == 3.0
    assert STEADY.delay(2, asked=None) == STEADY.delay(2, asked=0.0) == 1.0


def test_jitter_adds_up_to_its_fraction_after_the_cap():
    policy = RetryPolicy(base_delay=2.0, cap=5.0, jitter=0.25)
    assert policy.delay(1, uniform=_lowest) == 2.0 and policy.delay(1, uniform=_highest) == 2.5
    assert policy.delay(3, uniform=_highest) == 5.0 * 1.25
    assert all(2.0 <= policy.delay(1) <= 2.5 for _ in range(200))


def test_the_attempts_are_used_up_at_the_last_one():
    assert not STEADY.exhausted(4) and STEADY.exhausted(5)


@pytest.mark.parametrize(("policy", "attempts", "first", "cap"), [
    (PROVIDER_CALLS, 4, (0.5, 0.75), 20.0),
    (SALESFORCE_CALLS, 4, (0.5, 0.75), 8.0),
    (JOB_RETRY, 8, (5.0, 6.25), 3600.0),
])
def test_each_caller_declares_its_own_values(policy, attempts, first, cap):
    assert (policy.attempts, policy.cap) == (attempts, cap)
    assert (policy.delay(1, uniform=_lowest), policy.delay(1, uniform=_highest)) == first
