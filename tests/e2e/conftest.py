"""The sandbox for end-to-end tests: both simulators over HTTP and a daemon driven step by step.

The daemon's scheduler is not started: tests call `run_once()`/`work()` so each step is
deterministic, while its webhook server really listens, so callbacks travel over HTTP.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from connector.runtime.daemon import Daemon
from connector.runtime.servers import free_port
from sandbox.runner import Sandbox, start_daemon, start_simulators


@dataclass
class E2E:
    sandbox: Sandbox
    daemon: Daemon

    @property
    def salesforce(self):
        return self.sandbox.salesforce

    @property
    def signrequest(self):
        return self.sandbox.signrequest

    def restart(self) -> Daemon:
        """Stop the daemon entirely and start a new one on the same state database and port."""
        self.daemon.stop()
        self.daemon.store.close()
        self.daemon = start_daemon(self.sandbox)
        self.daemon.serve_webhooks()
        return self.daemon

    def opportunity_id(self, name: str) -> str:
        return next(o["Id"] for o in self.salesforce.records("Opportunity") if o["Name"] == name)

    def settle(self, until: Callable[[], bool] | None = None, timeout: float = 10.0) -> None:
        """Let callbacks arrive, then let the daemon work, until `until()` holds."""
        deadline = time.monotonic() + timeout
        while True:
            self.signrequest.wait_for_deliveries(timeout=5.0)
            self.daemon.work()
            if until is None or until() or time.monotonic() > deadline:
                return
            time.sleep(0.1)


@contextmanager
def running_e2e(tmp_path, prepare: Callable[[Sandbox], None] | None = None, **settings) -> Iterator[E2E]:
    """Simulators and a daemon listening for callbacks; `settings` override the e2e defaults."""
    settings = {"status_check_minutes": 0.02, "webhook_orphan_grace_seconds": 0, **settings}
    sandbox = start_simulators(tmp_path, webhook_port=free_port(), **settings)
    if prepare:
        prepare(sandbox)
    daemon = start_daemon(sandbox)
    daemon.serve_webhooks()
    world = E2E(sandbox, daemon)
    try:
        yield world
    finally:
        world.daemon.stop()
        sandbox.stop()


@pytest.fixture
def e2e(tmp_path):
    with running_e2e(tmp_path) as world:
        yield world
