"""Push triggers: a stage change reaches the daemon as a Change Data Capture event over the Pub/Sub API (gRPC,
TLS, Avro) from the Salesforce simulator, and becomes one signing request, with no poll."""

from __future__ import annotations

import time

import pytest

from connector.store import JobState
from connector.triggers.push import REPLAY_KEY
from tests.e2e.conftest import running_e2e
from tests.e2e.deals import make_deal, sign
from tests.e2e.status_command import run_status

STAGE = "Contract Sent"


def wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def pushed(tmp_path):
    with running_e2e(tmp_path, salesforce_cdc_enabled=True, salesforce_cdc_batch_size=5) as world:
        world.daemon.push.retry = type(world.daemon.push.retry)(attempts=1000, base_delay=0.1, cap=0.3)
        yield world


def start_push(e2e) -> None:
    e2e.daemon.push.start()
    wait_for(lambda: e2e.daemon.push.healthy)
    wait_for(lambda: e2e.salesforce.pubsub.subscribes >= 1)


def jobs(e2e):
    return e2e.daemon.store.list_jobs()


def test_a_stage_change_arrives_as_a_change_event_and_becomes_one_request(pushed):
    e2e = pushed
    opportunity_id = make_deal(e2e.salesforce, "Push Deal")
    start_push(e2e)
    e2e.salesforce.reset_api_calls()

    moved = time.monotonic()
    e2e.salesforce.set_stage(opportunity_id, STAGE)
    wait_for(lambda: len(jobs(e2e)) == 1)
    assert time.monotonic() - moved < 3
    # No poll ran: the one call was the query for the batch the change event came in.
    assert dict(e2e.salesforce.api_calls) == {"GET /query": 1}
    e2e.daemon.work()

    [job] = jobs(e2e)
    assert job.opportunity_id == opportunity_id and job.request_id
    assert e2e.signrequest.create_calls == 1
    assert e2e.daemon.store.get_value(REPLAY_KEY)
    assert e2e.daemon.health()["push"]["state"] == "streaming"


def test_a_signing_triggered_by_push_still_costs_five_salesforce_calls(pushed):
    """The batch query replaces the poll; the writebacks' own saves come back as change events and cost
    nothing (they do not change the stage)."""
    e2e = pushed
    opportunity_id = make_deal(e2e.salesforce, "Counted Push Deal")
    start_push(e2e)
    e2e.salesforce.reset_api_calls()
    e2e.salesforce.set_stage(opportunity_id, STAGE)
    wait_for(lambda: len(jobs(e2e)) == 1)
    e2e.daemon.work()
    [job] = jobs(e2e)
    sign(e2e.signrequest, job.request_id, "dana@example.com")
    sign(e2e.signrequest, job.request_id, "eli.countedpushdeal@example.com")
    e2e.settle(until=lambda: jobs(e2e)[0].state == JobState.DONE)
    assert jobs(e2e)[0].outcome == "completed"
    assert dict(e2e.salesforce.api_calls) == {
        "GET /query": 1, "GET /sobjects/ContentVersion/{id}/VersionData": 1, "POST /composite": 3}  # 1: the receipt


def test_an_edit_that_does_not_change_the_stage_reads_nothing(pushed):
    e2e = pushed
    opportunity_id = make_deal(e2e.salesforce, "Quiet Deal")
    start_push(e2e)
    e2e.salesforce.reset_api_calls()
    published = e2e.salesforce.bus.published

    e2e.salesforce.update_record("Opportunity", opportunity_id, {"NextStep": "call back"})
    wait_for(lambda: e2e.daemon.push.events >= 1 and e2e.salesforce.bus.published > published)
    wait_for(lambda: e2e.daemon.store.get_value(REPLAY_KEY) is not None)
    assert e2e.salesforce.total_api_calls == 0
    assert jobs(e2e) == []


def test_duplicated_and_replayed_events_make_nothing_new(pushed):
    e2e = pushed
    opportunity_id = make_deal(e2e.salesforce, "Twice Deal")
    start_push(e2e)
    e2e.salesforce.bus.duplicate_next()
    e2e.salesforce.set_stage(opportunity_id, STAGE)
    wait_for(lambda: e2e.daemon.push.events >= 2)
    e2e.daemon.work()
    assert len(jobs(e2e)) == 1

    # Replay everything from before the change: the same entry, the same key, no second job.
    e2e.daemon.push.stop()
    e2e.daemon.store.set_value(REPLAY_KEY, (0).to_bytes(8, "big").hex())
    events = e2e.daemon.push.events
    e2e.daemon.push.start()
    wait_for(lambda: e2e.daemon.push.events >= events + 2)
    e2e.daemon.run_once()
    assert len(jobs(e2e)) == 1
    assert e2e.signrequest.create_calls == 1


def test_a_dropped_stream_reconnects_and_resumes_where_it_was(pushed):
    e2e = pushed
    first, second = make_deal(e2e.salesforce, "Drop One"), make_deal(e2e.salesforce, "Drop Two")
    start_push(e2e)
    e2e.salesforce.set_stage(first, STAGE)
    wait_for(lambda: len(jobs(e2e)) == 1)

    e2e.salesforce.bus.drop_streams()
    e2e.salesforce.set_stage(second, STAGE)  # published while the stream is down
    wait_for(lambda: e2e.salesforce.pubsub.subscribes >= 2)
    wait_for(lambda: len(jobs(e2e)) == 2)
    assert {job.opportunity_id for job in jobs(e2e)} == {first, second}


def test_an_expired_replay_id_falls_back_to_a_catch_up_poll_and_misses_nothing(pushed, caplog):
    e2e = pushed
    early, late = make_deal(e2e.salesforce, "Early Deal"), make_deal(e2e.salesforce, "Late Deal")
    start_push(e2e)
    e2e.salesforce.set_stage(early, STAGE)
    wait_for(lambda: len(jobs(e2e)) == 1)
    e2e.daemon.push.stop()  # the daemon is off ...

    e2e.salesforce.set_stage(late, STAGE)  # ... while a deal moves, and longer than events are kept
    e2e.salesforce.bus.expire_all()
    e2e.daemon.push.start()

    wait_for(lambda: len(jobs(e2e)) == 2)
    assert {job.opportunity_id for job in jobs(e2e)} == {early, late}
    assert "no longer has the stored position" in caplog.text
    wait_for(lambda: e2e.daemon.push.healthy)
    # Subscribed again, from the tip: a later change still arrives by push.
    third = make_deal(e2e.salesforce, "After Deal")
    e2e.salesforce.set_stage(third, STAGE)
    wait_for(lambda: len(jobs(e2e)) == 3)


def test_gap_and_overflow_events_read_the_records_again(pushed):
    e2e = pushed
    gapped, overflowed = make_deal(e2e.salesforce, "Gap Deal"), make_deal(e2e.salesforce, "Overflow Deal")
    start_push(e2e)
    e2e.salesforce.bus.gap_next()
    e2e.salesforce.set_stage(gapped, STAGE)
    wait_for(lambda: len(jobs(e2e)) == 1)
    e2e.salesforce.bus.overflow_next()
    e2e.salesforce.set_stage(overflowed, STAGE)
    wait_for(lambda: len(jobs(e2e)) == 2)
    assert {job.opportunity_id for job in jobs(e2e)} == {gapped, overflowed}


def test_polling_is_a_sweep_while_events_flow_and_takes_over_when_they_stop(tmp_path):
    with running_e2e(tmp_path, salesforce_cdc_enabled=True, poll_interval_seconds=3,
                     poll_sweep_interval_seconds=600) as e2e:
        assert e2e.daemon.poll_interval() == 3
        start_push(e2e)
        assert e2e.daemon.poll_interval() == 600
        assert e2e.daemon.health()["poll_interval_seconds"] == 600
        e2e.daemon.push.retry = type(e2e.daemon.push.retry)(attempts=1000, base_delay=30, cap=30)
        e2e.salesforce.bus.drop_streams()
        wait_for(lambda: not e2e.daemon.push.healthy)
        assert e2e.daemon.poll_interval() == 3
        assert e2e.daemon.health()["push"]["state"] == "reconnecting"
        status = run_status(e2e.sandbox.settings, tmp_path)
        assert "push (change events): reconnecting since" in status
        assert "the stream was dropped (injected)" in status
