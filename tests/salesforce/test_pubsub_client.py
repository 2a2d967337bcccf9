"""The Pub/Sub API client against the simulator's gRPC server: auth headers, flow control, refusals."""

from __future__ import annotations

import threading

import pytest

from connector.ports.change_feed import ChangeFeedError, ChangeType, ReplayUnavailable
from connector.ports.errors import ErrorKind
from connector.runtime.servers import free_port
from sandbox.salesforce_sim.event_bus import replay_bytes
from sandbox.salesforce_sim.ids import ORG_ID
from tests.salesforce.pubsub import feed, running_pubsub


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_pubsub(tmp_path_factory.mktemp("tls")) as running:
        yield running


def past_the_connection(batches) -> None:
    """Read the first batch after the one that says the subscription was asked for."""
    marker = next(batches)
    assert (marker.changes, marker.replay_id) == ((), b"")
    next(batches)


def deal(sim, name: str) -> str:
    return sim.create_record("Opportunity", {"Name": name, "StageName": "Qualification", "CloseDate": "2026-12-31"})


def test_events_come_only_as_many_at_a_time_as_were_asked_for(server):
    sim, *_ = server
    start = sim.bus.tip
    ids = [deal(sim, f"Flow {n}") for n in range(5)]
    client = feed(server, batch=2)
    asked_before = len(sim.pubsub.fetch_requests)
    seen = []
    for batch in client.read(replay_bytes(start)):
        assert len(batch.changes) <= 2
        seen += [record for change in batch.changes for record in change.record_ids]
        if len(seen) == 5:
            break
    client.close()
    assert seen == ids
    assert all(change == 2 for change in sim.pubsub.fetch_requests[asked_before:])
    assert len(sim.pubsub.fetch_requests) - asked_before >= 3  # the first ask, then one more per 2 events taken


def test_a_stage_change_is_an_update_naming_stagename(server):
    sim, *_ = server
    opportunity = deal(sim, "Stage Mover")
    start = sim.bus.tip
    sim.set_stage(opportunity, "Contract Sent")
    client = feed(server)
    batch = next(batch for batch in client.read(replay_bytes(start)) if batch.changes)
    client.close()
    [change] = batch.changes
    assert (change.entity, change.change_type, change.record_ids) == ("Opportunity", ChangeType.UPDATE,
                                                                      (opportunity,))
    assert change.changed("StageName") and change.changed("LastStageChangeDate")


@pytest.mark.parametrize(("token", "org", "status"), [
    ("00Dbogus!AQnot-a-session", ORG_ID, "UNAUTHENTICATED"),
    (None, "00D000000000001AAA", "PERMISSION_DENIED"),
])
def test_a_bad_session_or_org_is_refused_as_a_configuration_error(server, token, org, status):
    with pytest.raises(ChangeFeedError) as refused:
        past_the_connection(feed(server, token=token, org=org).read(None))
    assert refused.value.kind is ErrorKind.CONFIG and status in refused.value.message
    assert "AQnot-a-session" not in refused.value.message


def test_a_topic_of_an_object_without_change_data_capture_is_not_found(server):
    with pytest.raises(ChangeFeedError, match="NOT_FOUND") as refused:
        feed(server, topic="/data/AccountChangeEvent").check()
    assert refused.value.kind is ErrorKind.CONFIG
    assert "may subscribe" in feed(server).check()


def test_a_replay_id_past_the_retention_window_is_replay_unavailable(server):
    sim, *_ = server
    old = sim.bus.tip
    deal(sim, "Forgotten")
    sim.bus.expire_all()
    with pytest.raises(ReplayUnavailable):
        past_the_connection(feed(server).read(replay_bytes(old)))


def test_close_ends_a_waiting_subscription(server):
    client = feed(server)
    ended = threading.Event()

    def read() -> None:
        for _ in client.read(None):
            pass
        ended.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    threading.Timer(0.3, client.close).start()
    assert ended.wait(5)


def test_an_endpoint_that_does_not_answer_is_a_transient_failure(server):
    client = feed(server)
    client.target, client.timeout = f"127.0.0.1:{free_port()}", 0.5
    with pytest.raises(ChangeFeedError, match="could not connect to the Pub/Sub API") as failed:
        next(client.read(None))
    assert failed.value.kind is ErrorKind.TRANSIENT
