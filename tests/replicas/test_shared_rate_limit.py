"""The provider's limit is the account's: replicas on one PostgreSQL database share it, and a 429 one of them
receives pauses them all."""

from __future__ import annotations

import threading
import time
from urllib.parse import urlparse

from adapters.transport.session import make_session
from config.settings import Settings
from connector.runtime.daemon import bootstrap
from mappings.loader import parse_mapping
from tests.fakes import FakeCRM
from tests.unit.conftest import RULES

RATE = 20.0
BASE_URL = "https://signrequest.example.test/api/v1"


def _replica_limiter(url: str):
    """A replica built as `run_connector.py run` builds it; returns its SignRequest rate limiter and daemon."""
    settings = Settings(_env_file=None, database_url=url, public_base_url="https://connector.example",
                        signrequest_api_token="token", signrequest_base_url=BASE_URL,
                        signrequest_max_requests_per_second=RATE)
    session = make_session()
    daemon = bootstrap(settings, crm=FakeCRM(), mapping=parse_mapping(RULES), http_session=session)
    origin = urlparse(BASE_URL)
    return session.get_adapter(f"{origin.scheme}://{origin.netloc}/x").limiter, daemon


def _turns(limiters, seconds: float, threads_each: int = 8) -> list[float]:
    """Every turn the limiters hand out over `seconds`, to busy threads (each wants a turn at once, again and
    again)."""
    turns, lock, stop = [], threading.Lock(), time.monotonic() + seconds

    def take(limiter):
        while time.monotonic() < stop:
            limiter.acquire()
            with lock:
                turns.append(time.monotonic())

    threads = [threading.Thread(target=take, args=(limiter,)) for limiter in limiters for _ in range(threads_each)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(turns)


def _busiest(turns: list[float], window: float) -> int:
    return max(sum(1 for t in turns[i:] if t < start + window) for i, start in enumerate(turns))


def test_three_replicas_together_stay_at_the_accounts_limit(fresh_database):
    url = fresh_database()
    replicas = [_replica_limiter(url) for _ in range(3)]
    try:
        turns = _turns([limiter for limiter, _ in replicas], seconds=3.0)
    finally:
        for _, daemon in replicas:
            daemon.store.close()
    # Turns are evenly spaced on the database's clock; threads wake from their sleep a few ms late, so a window
    # of the times seen here may hold one or two more. One limiter per process made it 60/s, three times over.
    assert _busiest(turns, 2.0) <= 2 * RATE + 2
    assert len(turns) / (turns[-1] - turns[0]) >= 0.9 * RATE  # and the limit is used, not wasted


def test_a_429_at_one_replica_pauses_the_others(fresh_database):
    url = fresh_database()
    (first, first_daemon), (second, second_daemon) = _replica_limiter(url), _replica_limiter(url)
    try:
        first.acquire()
        first.pause(1.5)  # the provider answered 429 with Retry-After: 1.5 to the first replica
        started = time.monotonic()
        second.acquire()
        waited = time.monotonic() - started
    finally:
        first_daemon.store.close()
        second_daemon.store.close()
    assert 1.3 <= waited <= 2.5
