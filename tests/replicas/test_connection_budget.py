"""Each replica's PostgreSQL connections come from settings, not from its number of workers, and no worker holds
one while it waits on a provider or Salesforce."""

from __future__ import annotations

import threading

from sqlalchemy import create_engine, text

from config.settings import Settings
from connector.runtime.daemon import bootstrap
from connector.runtime.worker_pool import WorkerPool
from connector.store.store import application_name
from mappings.loader import parse_mapping
from tests.fakes import FakeCRM, FakeProvider
from tests.unit.conftest import RULES, Clock, World

WORKERS = 64


def _daemon(url: str, tmp_path, **overrides):
    settings = Settings(_env_file=None, database_url=url, public_base_url="https://connector.example",
                        workers=WORKERS, **overrides)
    world = World(FakeCRM(), FakeProvider(name="signrequest"), Clock(), url, settings)
    daemon = bootstrap(settings, crm=world.crm, providers={"signrequest": world.provider},
                       mapping=parse_mapping(RULES), clock=world.clock)
    return world, daemon


def test_the_pool_is_sized_from_settings_not_from_the_workers(fresh_database, tmp_path):
    _, daemon = _daemon(fresh_database(), tmp_path, database_pool_size=6, database_max_overflow=3)
    pool = daemon.store.engine.pool
    assert (pool.size(), pool._max_overflow) == (6, 3)  # was workers + 4 and workers more: 132 at 64 workers
    daemon.store.close()
    _, daemon = _daemon(fresh_database(), tmp_path)
    assert (daemon.store.engine.pool.size(), daemon.store.engine.pool._max_overflow) == (8, 4)
    daemon.store.close()


def test_64_workers_waiting_on_the_provider_hold_no_database_connection(fresh_database, tmp_path):
    url = fresh_database()
    world, daemon = _daemon(url, tmp_path)
    for n in range(WORKERS):
        world.add_opportunity(f"006{n:015d}")
    daemon.poll()
    in_create, release = threading.Barrier(WORKERS + 1, timeout=30), threading.Event()

    def create_waits():  # every worker is inside a provider call at once
        in_create.wait()
        release.wait(30)

    world.provider.before_create = create_waits
    pool = WorkerPool(claim=daemon.engine.claim, advance=lambda job: daemon.engine.advance(job, just_claimed=True),
                      dispatch=daemon.dispatcher.dispatch, workers=WORKERS, idle_seconds=0.2)
    pool.start()
    watcher = create_engine(url)
    try:
        in_create.wait()
        assert pool.busy == WORKERS
        assert daemon.store.engine.pool.checkedout() == 0
        with watcher.connect() as conn:
            opened = conn.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name"),
                                 {"name": application_name()})
        assert opened <= 8 + 4
    finally:
        release.set()
        pool.stop()
        watcher.dispose()
        daemon.store.close()
    assert world.provider.create_calls == WORKERS
