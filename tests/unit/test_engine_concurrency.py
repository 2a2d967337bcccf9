"""The engine under the worker pool: safety-net checks are background provider calls, woken ones are not;
a worker whose lease was taken stops before any side effect."""

from __future__ import annotations

from datetime import timedelta

from connector.runtime import ratelimit
from connector.store import JobState


def _checks_in_background(world) -> list[bool]:
    seen, get_status = [], world.provider.get_status

    def recording(ref):
        seen.append(ratelimit.in_background())
        return get_status(ref)

    world.provider.get_status = recording
    return seen


def test_the_safety_net_check_is_background_work(world):
    world.add_opportunity()
    daemon = world.daemon()
    daemon.run_once()
    seen = _checks_in_background(world)
    world.clock.advance(minutes=40)  # past the safety-net check (30 minutes, give or take a fifth)
    daemon.work()
    assert seen == [True]


def test_a_check_woken_by_a_callback_is_not_background_work(world):
    world.add_opportunity()
    daemon = world.daemon()
    daemon.run_once()
    [job] = daemon.store.list_jobs()
    seen = _checks_in_background(world)
    world.clock.advance(minutes=1)
    daemon.store.wake_job(job.id)
    daemon.work()
    assert seen == [False]


def test_a_worker_that_lost_its_lease_mid_job_sends_nothing(world):
    world.add_opportunity()
    daemon = world.daemon()
    daemon.poll()
    [mine] = daemon.store.claim_due_jobs("slow-worker", lease_seconds=1)
    world.clock.advance(seconds=5)
    [theirs] = daemon.store.claim_due_jobs("other-worker", lease_seconds=300)
    daemon.engine.advance(mine, just_claimed=True)  # believes its claim is fresh: the first save finds out
    assert world.provider.create_calls == 0
    daemon.engine.advance(theirs, just_claimed=True)
    assert world.provider.create_calls == 1
    assert daemon.store.get_job(theirs.id).state == JobState.AWAITING


def test_steps_run_back_to_back_with_one_save_before_each_side_effect(world):
    world.add_opportunity()
    daemon = world.daemon()
    daemon.poll()
    saves, save_job = [], daemon.store.save_job

    def recording(job, **kwargs):
        saves.append((job.state.value, job.pending_effect, kwargs.get("release", False)))
        save_job(job, **kwargs)

    daemon.store.save_job = recording
    daemon.work()
    assert saves == [("new", "create", False), ("sent", "writeback:sent", False), ("awaiting", None, True)]
    assert daemon.store.get_job(daemon.store.list_jobs()[0].id).next_run_at > world.clock() + timedelta(minutes=20)
