"""Callbacks lost, sent twice, sent late and out of order: the job still ends in the right state, once."""

from __future__ import annotations

import time

from connector.store import JobState
from tests.faults.conftest import assert_completed_once, done, sign_all, start_deal, the_job


def _sent(world, name: str) -> str:
    opportunity_id = start_deal(world, name)
    world.daemon.run_once()
    world.settle(until=lambda: the_job(world).state == JobState.AWAITING)
    return opportunity_id


def _delivered(world, event_type: str) -> list[dict]:
    return [d for d in world.signrequest.deliveries if d["event_type"] == event_type]


def test_dropped_callbacks_are_made_up_for_by_the_status_check(world):
    world.signrequest.faults.add_webhooks(drop=1.0)
    opportunity_id = _sent(world, "Hooli Dropped")

    sign_all(world, "Hooli Dropped")
    world.settle(until=lambda: done(world))

    assert world.signrequest.deliveries == []  # not one callback reached the daemon
    assert world.signrequest.faults.counts()["drop"] >= 3  # sent, two signer_signed, signed (and more)
    assert world.daemon.store.count_events() == {}
    assert_completed_once(world, opportunity_id)


def test_every_callback_delivered_twice_still_attaches_one_set_of_files(world):
    world.signrequest.faults.add_webhooks(duplicate=1.0)
    opportunity_id = _sent(world, "Hooli Twice")

    sign_all(world, "Hooli Twice")
    world.settle(until=lambda: done(world))
    world.settle()  # let the second copies arrive and be processed too

    signed = _delivered(world, "signed")
    assert len(signed) == 2 and {d["status_code"] for d in signed} == {200}
    assert len({d["event_uuid"] for d in signed}) == 1  # the same event, twice
    assert_completed_once(world, opportunity_id)


def test_a_completion_callback_arriving_after_the_status_check_completed_the_job_changes_nothing(world):
    world.signrequest.faults.add_webhooks("signed", delay=1.0, delay_seconds=3)
    opportunity_id = _sent(world, "Hooli Late")

    sign_all(world, "Hooli Late")
    world.settle(until=lambda: done(world))
    assert _delivered(world, "signed") == []  # completed by the status check, not by the callback
    before = (world.salesforce.get_record("Opportunity", opportunity_id), world.salesforce.files_on(opportunity_id),
              world.salesforce.tasks_on(opportunity_id), world.salesforce.total_api_calls)

    deadline = time.monotonic() + 10
    while not _delivered(world, "signed") and time.monotonic() < deadline:
        time.sleep(0.1)
    world.settle()

    [late] = _delivered(world, "signed")
    assert late["status_code"] == 200
    after = (world.salesforce.get_record("Opportunity", opportunity_id), world.salesforce.files_on(opportunity_id),
             world.salesforce.tasks_on(opportunity_id), world.salesforce.total_api_calls)
    assert after == before
    assert_completed_once(world, opportunity_id)


def test_signer_signed_arriving_after_signed_leaves_the_job_completed(world):
    world.signrequest.faults.add_webhooks("signer_signed", reorder=1.0)
    opportunity_id = _sent(world, "Hooli Reordered")

    sign_all(world, "Hooli Reordered")
    world.settle(until=lambda: done(world) and len(_delivered(world, "signer_signed")) == 2)
    world.settle()

    order = [d["event_type"] for d in world.signrequest.deliveries if d["event_type"] in ("signed", "signer_signed")]
    # The first signer's callback is overtaken by the next event (the second signer viewing); the second
    # signer's by the completion.
    assert order == ["signer_signed", "signed", "signer_signed"]
    assert world.signrequest.faults.counts() == {"reorder": 2}
    assert_completed_once(world, opportunity_id)
