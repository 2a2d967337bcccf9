"""The windows through which a crash, a lost reply or a lease that ran out could send or attach twice.

Each test builds the interleaving that used to duplicate (found by the heavier chaos mix of issue 11): a call
that outlives its worker's lease while another worker takes the job over, a reply lost after the effect,
a 429 before it. Every one ends with exactly one request, one of each File and Task.
"""

from __future__ import annotations

from collections import Counter

from connector.ports.crm import CRMError
from connector.ports.errors import ErrorKind
from connector.ports.provider import ProviderRateLimited, ProviderTransientError, SigningState
from connector.store import JobState

OPP = "006000000000001AAA"


def _short_leases(world, **extra) -> None:
    """The chaos test's settings: a lease as short as the client timeout."""
    world.settings = world.settings.model_copy(update={
        "job_lease_seconds": 2.0, "provider_timeout_seconds": 2.0, "salesforce_timeout_seconds": 2.0, **extra})


def _lease_runs_out_and_is_taken_over(world, by, taken_over: list) -> None:
    """While the first worker's call is on its way: its lease runs out, and `by` claims the job and steps it."""
    world.clock.advance(seconds=3)
    taken_over.extend(by.engine.claim(5))
    for job in taken_over:
        by.engine.advance(job, just_claimed=True)


def _first_worker_steps(daemon) -> None:
    [job] = daemon.engine.claim(5)
    daemon.engine.advance(job, just_claimed=True)


def test_a_create_that_outlives_its_lease_is_not_sent_again_by_the_worker_that_takes_over(world):
    _short_leases(world)
    world.add_opportunity()
    first, second = world.daemon(), world.daemon()
    first.poll()
    taken_over = []

    def slow_call() -> None:  # the create left in time, and is still on its way when the lease runs out
        world.provider.create_in_flight = None
        _lease_runs_out_and_is_taken_over(world, second, taken_over)

    world.provider.create_in_flight = slow_call
    _first_worker_steps(first)
    assert taken_over, "the second worker should have claimed the job whose lease ran out"
    assert world.provider.create_calls == 1  # the second worker waited instead of looking at once
    for _ in range(6):
        world.clock.advance(seconds=10)
        world.daemon().work()
    assert world.provider.create_calls == 1
    [job] = world.daemon().store.list_jobs()
    assert job.state == JobState.AWAITING and job.request_id == "req-1"


def test_a_create_that_would_leave_after_its_lease_ran_out_is_not_sent(world):
    world.add_opportunity()
    daemon = world.daemon()

    def stuck_behind_a_rate_limiter() -> None:  # and no heartbeat renewed the lease meanwhile
        world.provider.before_create = None
        world.clock.advance(seconds=world.settings.job_lease_seconds + 1)

    world.provider.before_create = stuck_behind_a_rate_limiter
    daemon.run_once()
    [job] = daemon.store.list_jobs()
    assert world.provider.create_calls == 0
    assert job.state == JobState.NEW and job.pending_effect is None and job.attempts == 0
    world.clock.advance(minutes=1)
    daemon.run_once()
    assert world.provider.create_calls == 1 and world.crm.fields[OPP]["Signing_Status__c"] == "Sent"


def test_a_create_refused_with_429_is_tried_again_without_waiting_to_look_for_it(world):
    world.add_opportunity()
    world.provider.fail_next_create = ProviderRateLimited("FakeSign", "429", retry_after=1)
    daemon = world.daemon()
    daemon.run_once()
    [job] = daemon.store.list_jobs()
    assert job.pending_effect is None and job.attempts == 0
    assert (job.next_run_at - world.clock()).total_seconds() < 5  # the Retry-After, not the create settle
    world.clock.advance(seconds=2)
    daemon.run_once()
    assert world.provider.create_calls == 1 and world.crm.fields[OPP]["Signing_Status__c"] == "Sent"


def test_429s_never_use_up_a_jobs_attempts(world):
    world.add_opportunity()
    daemon = world.daemon()
    for _ in range(world.settings.max_attempts * 2):
        world.provider.fail_next_create = ProviderRateLimited("FakeSign", "429", retry_after=1)
        daemon.run_once()
        world.clock.advance(seconds=2)
    [job] = daemon.store.list_jobs()
    assert job.state == JobState.NEW and job.attempts == 0
    daemon.run_once()
    assert world.provider.create_calls == 1 and job.state != JobState.PARKED


def test_a_lost_create_reply_is_looked_for_only_once_it_cannot_be_on_its_way(world):
    world.add_opportunity()
    world.provider.lose_next_create_response = ProviderTransientError("FakeSign", "connection reset")
    daemon = world.daemon()
    daemon.run_once()
    [job] = daemon.store.list_jobs()
    assert job.pending_effect == "create"
    settle = world.settings.provider_timeout_seconds
    assert (job.next_run_at - world.clock()).total_seconds() >= 1
    world.clock.advance(seconds=settle + 1)
    daemon.run_once()
    assert world.provider.create_calls == 1 and world.crm.fields[OPP]["Signing_Status__c"] == "Sent"


def _awaiting_completed(world):
    world.add_opportunity()
    daemon = world.daemon()
    daemon.run_once()
    [job] = daemon.store.list_jobs()
    world.provider.end(job.request_id, SigningState.COMPLETED)
    daemon.store.wake_job(job.id)
    return job


def test_a_writeback_that_outlives_its_lease_is_not_attached_again_by_the_worker_that_takes_over(world):
    _short_leases(world)
    _awaiting_completed(world)
    first, second = world.daemon(), world.daemon()
    taken_over = []

    def slow_write(writeback):
        if writeback.files and not taken_over:  # the completion's upload left, and is on its way when the lease runs out
            _lease_runs_out_and_is_taken_over(world, second, taken_over)

    world.crm.write_in_flight = slow_write
    _first_worker_steps(first)
    assert taken_over
    for _ in range(6):
        world.clock.advance(seconds=10)
        world.daemon().work()
    files = Counter(f.filename for f in world.crm.attached[OPP])  # a receipt is two Files of one title
    tasks = Counter(world.crm.tasks[OPP])
    assert files and set(files.values()) == {1}, files
    assert set(tasks.values()) == {1}, tasks
    assert world.crm.fields[OPP]["Signing_Status__c"] == "Completed"


def test_a_writeback_whose_reply_was_lost_is_completed_without_a_second_copy(world):
    _awaiting_completed(world)
    world.crm.crash_after_next_apply = CRMError("connection reset", kind=ErrorKind.TRANSIENT)
    daemon = world.daemon()
    daemon.work()
    [job] = daemon.store.list_jobs()
    assert job.pending_effect == "writeback:completed"
    world.clock.advance(seconds=5)
    daemon.work()  # still within the window: not looked at yet
    assert job.pending_effect == "writeback:completed"
    world.clock.advance(minutes=2)
    daemon.work()
    files = Counter(f.filename for f in world.crm.attached[OPP])  # a receipt is two Files of one title
    assert len(files) == 4 and set(files.values()) == {1}
    assert daemon.store.list_jobs()[0].state == JobState.DONE


def test_a_running_daemon_keeps_the_leases_of_the_jobs_it_holds(world):
    _short_leases(world)
    world.add_opportunity()
    first, second = world.daemon(), world.daemon()
    first.poll()
    [job] = first.engine.claim(5)
    for _ in range(5):
        world.clock.advance(seconds=1.5)
        assert first.engine.renew_leases() == 1
        assert second.engine.claim(5) == []
    first.engine.advance(job, just_claimed=True)
    assert first.engine.renew_leases() == 0  # released: nothing held any more
    assert world.provider.create_calls == 1


def test_the_refusal_is_written_to_the_opportunity_even_when_writing_it_had_to_be_retried(world):
    world.add_opportunity(email=None)
    world.crm.fail_next_apply = CRMError("could not reach Salesforce for the writeback (ConnectionError)",
                                         kind=ErrorKind.TRANSIENT)
    daemon = world.daemon()
    daemon.run_once()
    world.clock.advance(minutes=5)
    daemon.run_once()
    error = world.crm.fields[OPP]["Signing_Last_Error__c"]
    assert "email" in error.lower() and "ConnectionError" not in error
    assert daemon.store.list_jobs()[0].state == JobState.DONE
