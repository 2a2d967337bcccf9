"""Failover between two `run_connector.py run` replicas on PostgreSQL, at the default job lease.

A replica that stops heartbeating, killed (SIGKILL) or frozen (SIGSTOP), while it holds jobs, some of them with a
create under way and others waiting for their turn at the provider's rate limit, has every one of them claimed by
the other replica within the lease (plus the claimer's tick); the creates it left under way are looked for, not
repeated, so each opportunity gets one request and one of each File. A frozen replica that wakes up (SIGCONT)
after the takeover sends nothing more for the jobs it lost and saves nothing of them: every save is fenced by the
lease token, and every write request by the lease's end. Which process updated a job is known from a trigger
that records the `application_name` of each update (`esign-connector/<host>/<pid>`).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text

from connector.runtime.servers import free_port
from sandbox.balancer import Balancer
from sandbox.runner import settings_env, start_simulators
from tests.chaos.processes import DaemonProcess, sign_everything
from tests.chaos.receipts import chain_problems, ended_with_receipt
from tests.e2e.deals import make_deal

DEALS = 12
CAP = 4.0  # creates a second, shared by the replicas: a replica holds jobs waiting for their turn
CREATE_REPLY_SECONDS = 1.0  # the provider answers a create this late: a replica holds creates under way
CLIENT_TIMEOUT = 3.0  # a create or writeback cut off by a stop is looked for twice this long after the lease
MARGIN = 3.0  # over the lease: the claimer's tick (CONNECTOR_WORK_INTERVAL_SECONDS, 1 s) and a loaded machine
CREATE = "POST /api/v1/signrequest-quick-create/"

_AUDIT = [
    "CREATE TABLE job_writes (at timestamptz NOT NULL DEFAULT clock_timestamp(), app text, job_id text, "
    "old_owner text, new_owner text, state text)",
    "CREATE FUNCTION record_job_write() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "INSERT INTO job_writes (app, job_id, old_owner, new_owner, state) VALUES "
    "(current_setting('application_name'), NEW.id, OLD.lease_owner, NEW.lease_owner, NEW.state); "
    "RETURN NEW; END $$",
    "CREATE TRIGGER job_writes AFTER UPDATE ON jobs FOR EACH ROW EXECUTE FUNCTION record_job_write()",
]


class RequestLog:
    """ASGI middleware recording (monotonic time, method, path) of every call a simulator receives."""

    def __init__(self, app):
        self.app, self.calls = app, []

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            self.calls.append((time.monotonic(), scope["method"], scope["path"]))
        await self.app(scope, receive, send)

    def writes_since(self, moment: float) -> list[tuple[float, str, str]]:
        return [call for call in list(self.calls) if call[0] >= moment and call[1] not in ("GET", "HEAD")]


class Replica(DaemonProcess):
    def __init__(self, name: str, env: dict[str, str], port: int, log_path):
        super().__init__({**env, "CONNECTOR_WEBHOOK_PORT": str(port)}, log_path, stop_seconds=20)
        self.name, self.port = name, port

    def health(self) -> dict:
        """Whether it polls, and its worker id, from /metrics (connector_poller, connector_replica_info)."""
        text = requests.get(f"http://127.0.0.1:{self.port}/metrics", timeout=2).text
        samples = [s for family in text_string_to_metric_families(text) for s in family.samples]
        return {"poller": any(s.name == "connector_poller" and s.value == 1 for s in samples),
                "worker_id": next(s.labels["worker_id"] for s in samples if s.name == "connector_replica_info")}

    def start_and_wait(self, timeout: float = 30) -> dict:
        self.start()
        assert self.process is not None
        until = time.monotonic() + timeout
        while time.monotonic() < until:
            assert self.process.poll() is None, f"{self.name} exited; log:\n{self.tail()}"
            try:
                return self.health()
            except requests.RequestException:
                time.sleep(0.05)
        raise AssertionError(f"{self.name} not up after {timeout}s; log:\n{self.tail()}")

    def log(self) -> str:
        return self.log_path.read_bytes().decode(errors="replace") if self.log_path.exists() else ""

    def tail(self) -> str:
        return self.log()[-3000:]


def _wait(condition, budget: float, step: float = 0.05) -> float | None:
    """Seconds until `condition()` held, or None after `budget`."""
    started = time.monotonic()
    while time.monotonic() - started < budget:
        if condition():
            return time.monotonic() - started
        time.sleep(step)
    return None


def _since(moment: float, waited: float | None) -> float | None:
    """Seconds from `moment` to now, if the wait that just ended succeeded."""
    return None if waited is None else time.monotonic() - moment


class Cluster:
    """The simulators, a balancer and two replicas (the first one started is elected poller)."""

    def __init__(self, tmp_path, url: str):
        ports = [free_port(), free_port()]
        self.balancer = Balancer([("127.0.0.1", port) for port in ports])
        self.sandbox = start_simulators(
            tmp_path, webhook_port=self.balancer.port, database_url=url, seed=False, poll_interval_seconds=0.5,
            status_check_minutes=30, provider_timeout_seconds=CLIENT_TIMEOUT,
            salesforce_timeout_seconds=CLIENT_TIMEOUT, shutdown_grace_seconds=5, log_level="WARNING")
        self.lease = self.sandbox.settings.job_lease_seconds  # the default: nothing above sets it
        self.balancer.start()
        signrequest = self.sandbox.signrequest
        signrequest.sender.retry_delays = (0.05, 0.2, 0.5)
        signrequest.faults.add_http(CREATE, timeout=1.0, hold_seconds=CREATE_REPLY_SECONDS)
        self.requests = RequestLog(signrequest.app.app)
        signrequest.app.app = self.requests
        env = {**os.environ, **settings_env(self.sandbox.settings), "REQUESTS_CA_BUNDLE": str(self.sandbox.ca_file),
               "CONNECTOR_SIGNREQUEST_MAX_REQUESTS_PER_SECOND": str(CAP)}
        self.replicas = [Replica(f"replica-{n}", env, port, tmp_path / f"replica-{n}.log")
                         for n, port in enumerate(ports)]
        self.engine = create_engine(url, connect_args={"application_name": "failover-test"})
        self.deals = [make_deal(self.sandbox.salesforce, f"Failover {n:02d}") for n in range(DEALS)]
        self.worker_ids: dict[Replica, str] = {}

    def start(self) -> None:
        first, second = self.replicas
        first.start_and_wait()
        assert _wait(lambda: first.health()["poller"], 15) is not None, first.tail()
        with self.engine.begin() as connection:  # the schema is there: record who updates each job
            for statement in _AUDIT:
                connection.execute(text(statement))
        second.start_and_wait()
        self.worker_ids = {replica: replica.health()["worker_id"] for replica in self.replicas}

    def stop(self) -> None:
        for replica in self.replicas:
            if replica.process is not None and replica.process.poll() is None:
                replica.process.send_signal(signal.SIGCONT)
            replica.stop()
        self.balancer.stop()
        self.sandbox.stop()
        self.engine.dispose()

    def scalar(self, sql: str, **params):
        with self.engine.connect() as connection:
            return connection.scalar(text(sql), params)

    def held_by(self, replica: Replica) -> list[tuple[str, str, str | None]]:
        with self.engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(
                "SELECT id, state, pending_effect FROM jobs WHERE lease_owner LIKE :token AND lease_until > now()"),
                {"token": f"{self.worker_ids[replica]}:%"})]

    def still_held(self, replica: Replica, ids: list[str]) -> int:
        return self.scalar("SELECT count(*) FROM jobs WHERE id = ANY(:ids) AND lease_owner LIKE :token",
                           ids=ids, token=f"{self.worker_ids[replica]}:%")

    def trigger_and_catch_a_replica_mid_create(self) -> tuple[Replica, Replica]:
        """Moves every deal into the trigger stage; returns (a replica holding a create under way, the other)."""
        for opportunity_id in self.deals:
            self.sandbox.salesforce.set_stage(opportunity_id, "Contract Sent")
        # Every job exists before anyone stops: a frozen poller would keep the role (its session lives on).
        assert _wait(lambda: self.scalar("SELECT count(*) FROM jobs") == DEALS, 15) is not None
        caught: list[Replica] = []

        def mid_create() -> bool:
            caught.extend(r for r in self.replicas if any(effect == "create" for _, _, effect in self.held_by(r)))
            return bool(caught)

        assert _wait(mid_create, 30, 0.02) is not None, "no replica ever held a create under way; logs:\n" + \
            "\n---\n".join(replica.tail() for replica in self.replicas)
        victim = caught[0]
        return victim, next(replica for replica in self.replicas if replica is not victim)

    def all_awaiting_and_idle(self) -> bool:
        return self.scalar("SELECT count(*) FROM jobs WHERE state = 'awaiting' AND lease_owner IS NULL "
                           "AND pending_effect IS NULL") == DEALS

    def one_request_each(self) -> None:
        external_ids = Counter(d["external_id"] for d in self.sandbox.signrequest.documents())
        assert len(external_ids) == DEALS and set(external_ids.values()) == {1}, external_ids
        assert self.sandbox.signrequest.create_calls == DEALS


@pytest.fixture
def cluster(tmp_path, fresh_database):
    cluster = Cluster(tmp_path, fresh_database())
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def _taken_over(cluster: Cluster, victim: Replica, survivor: Replica, stopped: float, held: list, how: str) -> None:
    """Every job `victim` held is claimed by `survivor` within the lease and the margin, then sent once."""
    ids = [job_id for job_id, _, _ in held]
    assert any(effect == "create" for _, _, effect in held)
    taken_over = _since(stopped, _wait(lambda: cluster.still_held(victim, ids) == 0, cluster.lease + 30))
    figures = {"lease": cluster.lease, "held": len(held), "mid-create": sum(e == "create" for _, _, e in held),
               "claimed by the other after": taken_over and round(taken_over, 2)}
    print(f"\nfailover ({how}):", figures)
    assert taken_over is not None and taken_over < cluster.lease + MARGIN, f"{figures}; log:\n{survivor.tail()}"
    # Every deal is sent once: the creates left under way were looked for once they could no longer be on their way.
    assert _wait(cluster.all_awaiting_and_idle, 4 * (cluster.lease + CLIENT_TIMEOUT)) is not None, \
        f"not every job reached awaiting; log:\n{survivor.tail()}"
    cluster.one_request_each()


@pytest.mark.postgres
def test_a_killed_replicas_jobs_are_taken_over_within_the_lease_and_nothing_is_sent_twice(cluster):
    victim, survivor = cluster.trigger_and_catch_a_replica_mid_create()
    victim.kill()
    killed = time.monotonic()
    _taken_over(cluster, victim, survivor, killed, cluster.held_by(victim), "SIGKILL")

    # Then every deal is signed, and each signed PDF, evidence and Task lands once.
    stop, signed = threading.Event(), Counter()
    bot = threading.Thread(target=sign_everything, args=(cluster.sandbox.signrequest, stop, signed), daemon=True)
    bot.start()
    salesforce = cluster.sandbox.salesforce
    try:
        completed = _wait(lambda: sum(o["Signing_Status__c"] == "Completed" for o in salesforce.records("Opportunity"))
                          == DEALS, 60, 0.2)
    finally:
        stop.set()
        bot.join(5)
    assert completed is not None, f"log:\n{survivor.tail()}"
    completed = _wait(lambda: ended_with_receipt(salesforce) == DEALS, 30, 0.2)  # the receipt, just after
    assert completed is not None, f"log:\n{survivor.tail()}"
    files = Counter((f["filename"], o) for o in cluster.deals for f in salesforce.files_on(o))
    tasks = Counter((t["Subject"], o) for o in cluster.deals for t in salesforce.tasks_on(o))
    assert all(files[("Quote Q-9001 - signed.pdf", o)] == 1 and files[("Quote Q-9001 - evidence.pdf", o)] == 1
               for o in cluster.deals), files
    assert chain_problems(salesforce, cluster.deals) == []
    assert set(files.values()) == {1} and set(tasks.values()) == {1}
    cluster.one_request_each()


@pytest.mark.postgres
def test_a_frozen_replica_woken_after_the_takeover_sends_and_saves_nothing_for_the_jobs_it_lost(cluster):
    victim, survivor = cluster.trigger_and_catch_a_replica_mid_create()
    cluster.balancer.backends = [("127.0.0.1", survivor.port)]  # as a health-checking balancer would
    victim.process.send_signal(signal.SIGSTOP)
    frozen = time.monotonic()
    held = cluster.held_by(victim)
    _taken_over(cluster, victim, survivor, frozen, held, "SIGSTOP")

    # Nothing is due now, so any write from here on would be the frozen replica's.
    salesforce_writes = {route: n for route, n in cluster.sandbox.salesforce.api_calls.items()
                         if not route.startswith("GET")}
    woken_at = cluster.scalar("SELECT clock_timestamp()")
    woken = time.monotonic()
    victim.process.send_signal(signal.SIGCONT)
    # Its workers resume where they froze: replies to read, turns at the rate limiter, saves. Give them time.
    lost = _wait(lambda: victim.log().count("claim lost") >= len(held), 10)
    time.sleep(cluster.lease / 3 + 1)  # and a heartbeat
    print(f"frozen {woken - frozen:.1f}s; after SIGCONT, 'claim lost' logged for each job it held after {lost}s")

    assert victim.process.poll() is None, victim.tail()
    assert cluster.requests.writes_since(woken) == [], "the woken replica sent provider requests"
    assert {route: n for route, n in cluster.sandbox.salesforce.api_calls.items()
            if not route.startswith("GET")} == salesforce_writes, "the woken replica wrote to Salesforce"
    with cluster.engine.connect() as connection:
        saved = connection.execute(text(
            "SELECT job_id, state, old_owner, new_owner FROM job_writes WHERE app LIKE :app AND at >= :woken"),
            {"app": f"%/{victim.process.pid}", "woken": woken_at}).all()
    assert saved == [], "the woken replica saved jobs it had lost"
    assert cluster.all_awaiting_and_idle()
    cluster.one_request_each()


@pytest.mark.postgres
def test_a_frozen_transaction_keeps_no_job_locked_past_the_lease(fresh_database):
    """A replica frozen inside a transaction (here: one left open) would keep the rows it locked from the other
    replicas' claims (SKIP LOCKED skips them); the server ends its session once idle for the lease."""
    from config.settings import Settings
    from connector.runtime.daemon import store_for

    settings = Settings(_env_file=None, database_url=fresh_database(), public_base_url="https://connector.example",
                        job_lease_seconds=1)
    frozen, other = store_for(settings), store_for(settings)
    frozen.migrate()
    try:
        frozen.create_job(entry_key="e", rule_id="quote", rule={}, provider="signrequest", opportunity_id="006x",
                          opportunity={})
        with frozen.engine.connect() as connection:
            assert connection.scalar(text("SHOW idle_in_transaction_session_timeout")) == "1s"
            connection.execute(text("SELECT id FROM jobs FOR UPDATE"))  # and the process freezes here
            assert other.claim_due_jobs("other", lease_seconds=1) == []  # locked: skipped
            assert _wait(lambda: other.claim_due_jobs("other", lease_seconds=1) != [], 5) is not None
            with pytest.raises(Exception, match="idle-in-transaction"):
                connection.execute(text("SELECT 1"))
            connection.rollback()
    finally:
        frozen.close()
        other.close()
