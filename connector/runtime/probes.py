"""What /metrics and /readyz read from a running daemon: the state gauges at a scrape, and the readiness
checks (database, mapping rules, Salesforce login, each configured provider's API)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import requests
from sqlalchemy import text

from connector.runtime import provider_registry
from connector.runtime.metrics import StateSnapshot

if TYPE_CHECKING:
    from connector.runtime.daemon import Daemon


def metrics_snapshot(daemon: Daemon) -> StateSnapshot:
    jobs: dict[tuple[str, str], int] = {}
    parked: dict[tuple[str, str], int] = {}
    for (state, outcome, provider, parked_from), count in daemon.store.count_jobs_by_kind().items():
        jobs[(state, outcome)] = jobs.get((state, outcome), 0) + count
        if state == "parked":
            parked[(provider, parked_from)] = parked.get((provider, parked_from), 0) + count
    poller = daemon.leadership.is_leader
    # On the poller only: seconds since its last successful poll, or since it started when none has succeeded.
    lag = time.time() - (daemon.metrics.last_poll_at or daemon.started_at) if poller else None
    return StateSnapshot(
        jobs=jobs, parked=parked, salesforce_api_calls=daemon.crm.api_calls, salesforce_usage=daemon.budget.usage(),
        budget_share=daemon.settings.salesforce_api_budget_share, poll_lag_seconds=lag,
        ready=daemon.ready() and all(daemon.readiness.last.values()), is_poller=poller,
        worker_id=daemon.engine.worker_id, push_state=daemon.push.report()["state"] if daemon.push else None)


def readiness_checks(daemon: Daemon) -> dict[str, Callable[[], None]]:
    def database() -> None:
        with daemon.store.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def mappings() -> None:
        if daemon.mappings.current is None:
            raise RuntimeError("no mapping rules loaded")

    checks: dict[str, Callable[[], None]] = {"database": database, "mappings": mappings,
                                             "salesforce": daemon.crm.check_login}
    for name in sorted(daemon.providers):
        checks[f"provider:{name}"] = _provider_answers(daemon, name)
    return checks


def _provider_answers(daemon: Daemon, name: str) -> Callable[[], None]:
    base_url = provider_registry.provider_settings(daemon.settings, name).base_url
    verify = daemon.http_session.verify if daemon.http_session is not None else True
    timeout = min(daemon.settings.provider_timeout_seconds, 5.0)

    def answers() -> None:
        # Any HTTP answer will do: the API is reachable; connection and TLS failures raise. Not through the
        # providers' session: the probe would count among the API calls in the metrics, and wait for turns.
        requests.head(base_url, timeout=timeout, allow_redirects=False, verify=verify)
    return answers
