"""One Salesforce API budget for the org: every replica decides on the newest usage any of them has read."""

from __future__ import annotations

from config.settings import Settings
from connector.runtime.daemon import bootstrap
from mappings.loader import parse_mapping
from tests.fakes import FakeCRM, FakeProvider
from tests.unit.conftest import RULES, Clock, World

OVER = (13_000, 15_000)  # the default budget is 80% of the allocation
UNDER = (4_000, 15_000)


def _replicas(url: str, count: int):
    clock = Clock()
    settings = Settings(_env_file=None, database_url=url, public_base_url="https://connector.example")
    world = World(FakeCRM(), FakeProvider(name="signrequest"), clock, url, settings)
    daemons = [bootstrap(settings, crm=FakeCRM(opportunities=world.crm.opportunities),
                         providers={"signrequest": world.provider}, mapping=parse_mapping(RULES), clock=clock)
               for _ in range(count)]
    return world, daemons


def test_a_replica_that_made_no_call_holds_its_writes_when_the_others_read_the_budget_spent(fresh_database):
    world, (busy, quiet) = _replicas(fresh_database(), 2)
    try:
        quiet.crm.usage, quiet.crm.calls = UNDER, 1  # its last reply, a while ago
        quiet.check_api_budget()
        world.clock.advance(seconds=60)
        busy.crm.usage, busy.crm.calls = OVER, 1  # a reply since: the org is over the connector's budget
        busy.check_api_budget()
        quiet.check_api_budget()
        assert busy.budget.wait() is not None
        assert quiet.budget.wait() is not None  # it used its own, older figure before: writes went on
        assert quiet.health()["salesforce_api"]["used"] == 13_000

        world.clock.advance(seconds=60)
        quiet.crm.usage, quiet.crm.calls = UNDER, 2  # the newest reply, to the quiet one, says usage fell
        quiet.check_api_budget()
        busy.check_api_budget()
        assert busy.budget.wait() is None and quiet.budget.wait() is None
    finally:
        for daemon in (busy, quiet):
            daemon.stop()
            daemon.store.close()


def test_only_the_poller_asks_for_the_usage_and_only_when_every_replica_is_quiet(fresh_database):
    world, (leader, follower) = _replicas(fresh_database(), 2)
    try:
        leader.poll()
        follower.poll()
        assert leader.leadership.is_leader and not follower.leadership.is_leader
        follower.crm.usage, follower.crm.calls = UNDER, 1  # the follower is the busy one
        for _ in range(5):
            world.clock.advance(seconds=120)
            follower.crm.calls += 1
            follower.check_api_budget()
            leader.check_api_budget()
        assert leader.crm.usage_refreshes == 0  # the follower's replies kept the shared figure fresh
        world.clock.advance(seconds=301)  # nobody has heard from Salesforce for the refresh interval
        follower.check_api_budget()
        leader.check_api_budget()
        assert (leader.crm.usage_refreshes, follower.crm.usage_refreshes) == (1, 0)
    finally:
        for daemon in (leader, follower):
            daemon.stop()
            daemon.store.close()
