"""Replicas on one PostgreSQL database: one polls Salesforce, the others stand by; when it dies, one takes over
and goes on from the poll cursor it left in the database."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from sqlalchemy import text

from config.settings import Settings
from connector.runtime.daemon import bootstrap
from connector.runtime.leader import current_leader
from connector.triggers.poller import CURSOR_KEY
from mappings.loader import parse_mapping
from tests.fakes import FakeCRM, FakeProvider
from tests.unit.conftest import RULES, Clock, World


class CountingCRM(FakeCRM):
    """One replica's Salesforce client (its own counts) over the org the replicas share."""

    def __init__(self, org: FakeCRM):
        super().__init__(opportunities=org.opportunities, file_contents=org.file_contents)
        self.polls: list = []

    def poll_opportunities(self, stages, modified_since, fields=()):
        self.polls.append(modified_since)
        return super().poll_opportunities(stages, modified_since, fields)


def _replicas(url: str, count: int):
    clock = Clock()
    settings = Settings(_env_file=None, database_url=url, public_base_url="https://connector.example")
    world = World(FakeCRM(), FakeProvider(name="signrequest"), clock, url, settings)
    daemons = [bootstrap(settings, crm=CountingCRM(world.crm), providers={"signrequest": world.provider},
                         mapping=parse_mapping(RULES), clock=clock) for _ in range(count)]
    return world, daemons


def test_only_the_elected_replica_polls_and_a_follower_takes_over_from_the_cursor(fresh_database):
    world, (first, second, third) = _replicas(fresh_database(), 3)
    try:
        world.add_opportunity("006000000000001AAA")
        for _ in range(3):
            for daemon in (first, second, third):
                daemon.poll()
            world.clock.advance(seconds=30)
        assert [len(d.crm.polls) for d in (first, second, third)] == [3, 0, 0]
        assert (first.leadership.is_leader, second.leadership.is_leader) == (True, False)
        assert len(first.store.list_jobs()) == 1
        with first.store.engine.connect() as conn:
            assert current_leader(conn).startswith("esign-connector/")
        cursor = first.store.get_value(CURSOR_KEY)

        # The leader dies: its session ends (SIGKILL closes its sockets; here, the server ends it).
        held = text("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = :key "
                    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")
        with second.store.engine.connect() as conn:
            conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM ({held.text}) AS leader"),
                         {"key": first.leadership.key})
            conn.commit()
            # pg_terminate_backend only signals the backend: wait until its session, and the lock, are gone.
            deadline = time.monotonic() + 10
            while conn.execute(held, {"key": first.leadership.key}).first() and time.monotonic() < deadline:
                conn.commit()
                time.sleep(0.05)
        world.add_opportunity("006000000000002AAA")
        second.poll()  # the next follower to tick takes over, and polls from the shared cursor
        third.poll()
        assert [len(d.crm.polls) for d in (second, third)] == [1, 0]
        overlap = timedelta(seconds=second.settings.poll_overlap_seconds)
        assert second.crm.polls[0] == datetime.fromisoformat(cursor) - overlap
        assert len(second.store.list_jobs()) == 2
        first.poll()  # the old leader finds its session gone: it is a follower now
        assert not first.leadership.is_leader and len(first.crm.polls) == 3
    finally:
        for daemon in (first, second, third):
            daemon.stop()
            daemon.store.close()


def test_status_names_the_poller(fresh_database, monkeypatch, capsys):
    from connector.admin import cli

    url = fresh_database()
    world, (first, second) = _replicas(url, 2)
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", url)
    try:
        assert cli.main(["status"]) == 0
        assert "poller: none (no replica running)" in capsys.readouterr().out
        second.poll()
        first.poll()
        assert cli.main(["status"]) == 0
        assert "poller: esign-connector/" in capsys.readouterr().out
    finally:
        for daemon in (first, second):
            daemon.stop()
            daemon.store.close()


def test_a_stopping_leader_hands_over_at_once(fresh_database):
    world, (first, second) = _replicas(fresh_database(), 2)
    try:
        first.poll()
        second.poll()
        assert (len(first.crm.polls), len(second.crm.polls)) == (1, 0)
        first.stop()
        second.poll()
        assert len(second.crm.polls) == 1 and second.leadership.is_leader
    finally:
        for daemon in (first, second):
            daemon.stop()
            daemon.store.close()
