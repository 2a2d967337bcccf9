"""What a flood of authentic-looking callbacks costs the daemon: a captured callback replayed with fresh ids
(SignRequest's signature covers only the event time and type) may not buy more than one status check per
job per interval, nor more than the caps in stored events, and a real event in the middle is never lost."""

from __future__ import annotations

import itertools
import logging

from starlette.testclient import TestClient

from connector.ports.provider import SigningState, WebhookEvent
from connector.store import JobState
from tests.fakes import FakeProvider
from tests.unit.conftest import World


class ReplayedProvider(FakeProvider):
    """Each body `request id` is a new event for it, as a replay with a fresh event uuid would be."""

    def __init__(self):
        super().__init__(name="signrequest")
        self.ids = itertools.count()
        self.status_calls = 0

    def parse_webhook(self, headers, body):
        return WebhookEvent(provider=self.name, event_id=f"replay-{next(self.ids)}", request_id=body.decode(),
                            kind="signed", state_hint=SigningState.COMPLETED)

    def get_status(self, ref):
        self.status_calls += 1
        return super().get_status(ref)


def test_a_flood_of_replays_costs_one_status_check_a_minute_and_a_real_event_still_counts(world: World, caplog):
    world.provider = ReplayedProvider()
    world.settings = world.settings.model_copy(update={"webhook_wake_interval_seconds": 60,
                                                       "webhook_max_events_per_request": 500})
    world.add_opportunity()
    daemon = world.daemon()
    daemon.run_once()
    [job] = daemon.store.list_jobs()
    assert job.state == JobState.AWAITING
    client = TestClient(daemon.webhook_app())
    with caplog.at_level(logging.WARNING, logger="connector.inbound.event_ingest"):
        for _second in range(120):  # 840 replays over two minutes, the worker running all along
            for _ in range(7):
                assert client.post("/webhooks/signrequest", content=job.request_id.encode()).status_code == 200
            daemon.work()
            world.clock.advance(seconds=1)
        client.app.state.ingest._summarise(force=True)
    assert world.provider.status_calls == 2  # at 0 s and at 60 s; the one due at 120 s is not yet
    counts = daemon.store.count_events()
    assert sum(counts.values()) == 500  # the job's cap; the rest were acknowledged and not kept
    assert "340 events acknowledged but not kept" in caplog.text

    world.provider.end(job.request_id, SigningState.COMPLETED)  # now the signer really signs
    daemon.work()
    assert world.provider.status_calls == 3  # the wake held back at 120 s
    assert daemon.store.get_job(job.id).state == JobState.DONE


def test_the_daemon_deletes_events_handled_longer_ago_than_the_retention(world: World):
    world.settings = world.settings.model_copy(update={"events_retention_days": 30})
    world.add_opportunity()
    daemon = world.daemon()
    daemon.run_once()
    [job] = daemon.store.list_jobs()
    client = TestClient(daemon.webhook_app())
    headers, body = world.provider.callback(job.request_id, "signed")
    assert client.post("/webhooks/signrequest", content=body, headers=headers).status_code == 200
    daemon.work()
    world.clock.advance(days=29)
    assert daemon.prune_events() == 0
    world.clock.advance(days=2)
    assert daemon.prune_events() == 1 and daemon.store.count_events() == {}
    world.settings = world.settings.model_copy(update={"events_retention_days": 0})
    assert world.daemon().prune_events() == 0  # 0: kept forever


class LateProvider(ReplayedProvider):
    """Every callback says "completed", dated long ago (the adapter marks it stale)."""

    def parse_webhook(self, headers, body):
        return WebhookEvent(provider=self.name, event_id=f"late-{next(self.ids)}", request_id=body.decode(),
                            kind="signed", state_hint=SigningState.COMPLETED, stale=True)


def test_a_stale_callback_wakes_a_status_check_and_is_never_taken_for_the_outcome(world: World):
    world.provider = LateProvider()
    world.add_opportunity()
    daemon = world.daemon()
    daemon.run_once()
    [job] = daemon.store.list_jobs()
    client = TestClient(daemon.webhook_app())
    assert client.post("/webhooks/signrequest", content=job.request_id.encode()).status_code == 200
    daemon.work()
    assert world.provider.status_calls == 1  # woken at once, like a fresh event
    assert daemon.store.get_job(job.id).state == JobState.AWAITING  # the provider says it is still out
    world.provider.end(job.request_id, SigningState.COMPLETED)
    world.clock.advance(seconds=61)
    assert client.post("/webhooks/signrequest", content=job.request_id.encode()).status_code == 200
    daemon.work()
    assert (world.provider.status_calls, daemon.store.get_job(job.id).state) == (2, JobState.DONE)
