"""Polling as the reconciliation sweep: while the push source is healthy the poll runs only once per sweep
interval; when it is down, at every tick again."""

from __future__ import annotations

from collections.abc import Iterator

from connector.ports.change_feed import ChangeBatch, ChangeFeed
from connector.runtime.daemon import bootstrap
from connector.store import Store
from mappings.loader import parse_mapping
from tests.unit.conftest import RULES


class SilentFeed(ChangeFeed):
    def read(self, after: bytes | None) -> Iterator[ChangeBatch]:
        return iter(())


def test_polls_are_skipped_while_change_events_flow_and_resume_when_they_stop(world):
    settings = world.settings.model_copy(update={"poll_interval_seconds": 5, "poll_sweep_interval_seconds": 600})
    store = Store(world.db_url, clock=world.clock)
    store.migrate()
    daemon = bootstrap(settings, crm=world.crm, providers={"signrequest": world.provider}, store=store,
                       mapping=parse_mapping(RULES), clock=world.clock, change_feed=SilentFeed())
    polls = lambda: len(world.crm.polled_fields)  # noqa: E731

    daemon.poll()
    assert polls() == 1
    daemon.push.state, daemon.push._opened_at = "streaming", 0  # events flow
    daemon.poll()
    daemon.poll()
    assert polls() == 1
    assert daemon.health()["poll_interval_seconds"] == 600

    daemon.push.state = "reconnecting"  # the stream dropped
    daemon.poll()
    daemon.poll()
    assert polls() == 3
    assert daemon.health()["poll_interval_seconds"] == 5


def test_without_a_change_feed_every_tick_polls(world):
    daemon = world.daemon()
    assert daemon.push is None
    daemon.poll()
    daemon.poll()
    assert len(world.crm.polled_fields) == 2
    assert daemon.health()["push"] == {"state": "off"}
