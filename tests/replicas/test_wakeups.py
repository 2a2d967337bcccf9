"""A callback accepted by one replica, or a job the poller created, is taken up at once by a replica with a free
worker, not at that replica's next idle tick: PostgreSQL LISTEN/NOTIFY."""

from __future__ import annotations

import time

from starlette.testclient import TestClient

from config.settings import Settings
from connector.ports.provider import SigningState
from connector.runtime.daemon import bootstrap
from connector.runtime.servers import free_port
from connector.store import JobState
from mappings.loader import parse_mapping
from tests.fakes import FakeCRM, FakeProvider
from tests.unit.conftest import RULES, Clock, World

IDLE = 30.0  # the idle replica's claim tick: far longer than the test waits


def _replicas(url: str):
    clock = Clock()
    settings = Settings(_env_file=None, database_url=url, public_base_url="https://connector.example",
                        webhook_port=free_port(), work_interval_seconds=IDLE, poll_interval_seconds=3600)
    world = World(FakeCRM(), FakeProvider(name="signrequest"), clock, url, settings)
    return world, [bootstrap(settings, crm=world.crm, providers={"signrequest": world.provider},
                             mapping=parse_mapping(RULES), clock=clock) for _ in range(2)]


def _start_idle(daemon) -> None:
    """Start the replica, then let its periodic dispatch sleep as long as its claimer does."""
    daemon.start()
    daemon._pool.dispatch_seconds = IDLE
    # A NOTIFY sent before the LISTEN is lost: on a loaded machine the listener's connection may take longer
    # than the wait below (seen once in a full run).
    assert daemon._listener.listening.wait(10)
    time.sleep(1.0)  # the dispatch wait under way (0.5 s) ends; the next ones last IDLE


def _eventually(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_a_callback_recorded_by_one_replica_is_taken_up_at_once_by_another(fresh_database):
    world, (front, idle) = _replicas(fresh_database())
    try:
        world.add_opportunity()
        front.run_once()  # the job is sent and awaits the signers (its status check is 30 minutes away)
        [job] = front.store.list_jobs()
        assert job.state == JobState.AWAITING
        _start_idle(idle)
        world.provider.end(job.request_id, SigningState.COMPLETED)
        # The load balancer sent the callback to a replica whose workers are all busy: it records and matches
        # the event, the job is due, and another replica must run it.
        signed = world.provider.sent_callbacks[-1]
        response = TestClient(front.webhook_app()).post("/webhooks/signrequest", content=signed.body,
                                                         headers=signed.headers)
        assert response.status_code == 200
        front.dispatcher.dispatch()
        assert _eventually(lambda: front.store.get_job(job.id).state == JobState.DONE)  # was IDLE s later
        assert idle._listener.notifications >= 1
    finally:
        for daemon in (idle, front):
            daemon.stop()
            daemon.store.close()


def test_jobs_the_poller_creates_are_claimed_at_once_by_the_other_replicas(fresh_database):
    world, (poller, idle) = _replicas(fresh_database())
    try:
        _start_idle(idle)
        world.add_opportunity()
        poller.poll()  # elected, polls, creates the job; it runs no workers of its own
        assert poller.leadership.is_leader and len(poller.store.list_jobs()) == 1
        assert _eventually(lambda: poller.store.list_jobs()[0].state == JobState.AWAITING)
        assert world.provider.create_calls == 1
    finally:
        for daemon in (idle, poller):
            daemon.stop()
            daemon.store.close()


def test_the_listener_reconnects_and_wakes_the_pool_once_for_what_it_missed(fresh_database):
    from sqlalchemy import create_engine, text

    from connector.runtime.wakeups import WakeListener

    url = fresh_database()
    wakes = []
    listener = WakeListener(url, on_wake=lambda: wakes.append(time.monotonic()), reconnect_seconds=0.2)
    listener.start()
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        assert listener.listening.wait(5)
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_notify('connector_wake', 'test')"))
            assert _eventually(lambda: len(wakes) == 1)
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%' "
                              "AND datname = current_database()"))
        assert _eventually(lambda: len(wakes) == 2)  # back, and woken for whatever was notified meanwhile
        assert listener.listening.is_set()
    finally:
        listener.stop()
        admin.dispose()
