"""Replicas: N = 1, 2, 3 `run_connector.py run` processes on one PostgreSQL database, behind one balancer (the one
public URL they all advertise), each configured with the account's full provider limit, as an admin would.

For each N, on a fresh database, with the provider capped (429 above the cap) and latencies on:

* bulk: opportunities moved into the trigger stage at once; time until every request is created, the sum of the
  replicas' create rates against the cap (sustained, 10 % to 90 %), 429s, duplicates;
* every one of them signed at once; Salesforce API calls per signing, trigger to the last Files (one poller, so
  flat in N);
* completion latency at a steady signing rate (signed at the provider to both Files on the opportunity);
* (N >= 2) failover: SIGKILL of the poller (until another replica polls, and until a deal moved after the kill
  has its request), and of a replica that is not the poller while it holds jobs (until another replica has
  taken every one of them over, and until every one of those that was being sent has its request);
* PostgreSQL connections each replica opened (pg_stat_activity, sampled every half second, the highest).

Needs PostgreSQL: CONNECTOR_TEST_POSTGRES_URL (or --postgres-url); each N gets a database of its own, dropped
after. `python -m benchmarks --profile replicas` runs this alone at the issue's sizes.
"""

from __future__ import annotations

import os
import signal
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from benchmarks.bulk import BulkRun
from benchmarks.deals import completed_opportunities, make_deals, sign_waiting, trigger
from benchmarks.figures import Figure, percentile
from benchmarks.profiles import Profile
from benchmarks.world import Conditions, DaemonProcess, start_world
from config.settings import Settings
from connector.runtime.servers import free_port
from sandbox.balancer import Balancer

POSTGRES_ENV = "CONNECTOR_TEST_POSTGRES_URL"
LEASE_SECONDS = Settings.model_fields["job_lease_seconds"].default  # the default: failover as deployed
CLIENT_TIMEOUT = 10.0  # provider timeout: a create cut off by a SIGKILL is looked for twice this after the lease
POOL = (8, 4)  # the default CONNECTOR_DATABASE_POOL_SIZE and MAX_OVERFLOW
POLL_SECONDS = 1.0


@dataclass
class ReplicaRun:
    replicas: int
    bulk: BulkRun
    sf_calls_per_signing: float | None
    completed: int
    latencies: list[float]
    leader_takeover: float | None = None  # SIGKILL of the poller -> another replica polls
    leader_new_request: float | None = None  # SIGKILL of the poller -> a deal moved after it has its request
    worker_takeover: float | None = None  # SIGKILL of a follower -> every job it held claimed by another
    worker_resent: float | None = None  # ... -> every job it held while sending has its request
    worker_held: int = 0
    worker_mid_create: int = 0
    connections: dict[str, int] = field(default_factory=dict)
    sf_calls_by_route: dict[str, int] = field(default_factory=dict)  # over the bulk-and-sign phase


class Databases:
    def __init__(self, base_url: str):
        self.base_url = base_url
        self.admin = create_engine(base_url, isolation_level="AUTOCOMMIT")

    def fresh(self) -> str:
        name = f"connector_bench_{uuid.uuid4().hex[:10]}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        return make_url(self.base_url).set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))


class ConnectionSampler(threading.Thread):
    """The most PostgreSQL connections each replica (application name esign-connector/<host>/<pid>) held."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.engine = create_engine(url, connect_args={"application_name": "benchmark"})
        self.database = make_url(url).database
        self.highest: dict[str, int] = {}
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.5):
            try:
                with self.engine.connect() as conn:
                    rows = conn.execute(text(
                        "SELECT application_name, count(*) FROM pg_stat_activity WHERE datname = :db "
                        "AND application_name LIKE 'esign-connector/%' GROUP BY application_name"),
                        {"db": self.database}).all()
            except Exception:  # noqa: BLE001, S112 - a sample missed is no figure lost
                continue
            for name, count in rows:
                self.highest[name] = max(self.highest.get(name, 0), count)

    def stop(self) -> dict[str, int]:
        self.stopped.set()
        self.join(5)
        self.engine.dispose()
        return self.highest


def _wait(condition, budget: float, step: float = 0.1) -> float | None:
    """Seconds until `condition()` held, or None after `budget`."""
    started = time.monotonic()
    while time.monotonic() - started < budget:
        if condition():
            return time.monotonic() - started
        time.sleep(step)
    return None


def run_replicas(profile: Profile, conditions: Conditions, count: int, databases: Databases) -> ReplicaRun:
    url = databases.fresh()
    tmp = tempfile.TemporaryDirectory(prefix="connector-bench-replicas-")
    ports = [free_port() for _ in range(count)]
    balancer = Balancer([("127.0.0.1", port) for port in ports])
    world = start_world(Path(tmp.name), conditions, database_url=url, public_base_url=balancer.url,
                        poll_interval_seconds=POLL_SECONDS, status_check_minutes=30,
                        provider_timeout_seconds=CLIENT_TIMEOUT, shutdown_grace_seconds=10,
                        database_pool_size=POOL[0], database_max_overflow=POOL[1])
    assert world.settings.public_base_url == balancer.url  # every replica advertises the balancer, none itself
    balancer.start()
    sampler = ConnectionSampler(url)
    replicas = [DaemonProcess(world, f"replica-{n}", port) for n, port in enumerate(ports)]
    try:
        n = profile.replicas_opportunities
        ids = make_deals(world.salesforce, n)
        for replica in replicas:
            replica.start(timeout=60)
        sampler.start()
        run = _bulk_and_sign(world, ids, count, profile)
        run.latencies = _latencies(world, profile)
        if count >= 2:
            _failover(world, replicas, url, run, profile)
        run.connections = sampler.stop()
        return run
    finally:
        sampler.stopped.set()
        for replica in replicas:
            replica.stop()
        balancer.stop()
        world.stop()
        tmp.cleanup()
        databases.drop(url)


def _bulk_and_sign(world, ids: list[str], count: int, profile: Profile) -> ReplicaRun:
    n = len(ids)
    world.provider_net.reset_counts()
    sf_before, routes_before = world.salesforce.total_api_calls, world.salesforce.api_calls
    started = time.monotonic()
    trigger(world.salesforce, ids)
    timeline, seconds_to_all = [(0.0, 0)], None
    while time.monotonic() - started < profile.replicas_budget:
        time.sleep(0.25)
        created = world.signrequest.create_calls
        timeline.append((time.monotonic() - started, created))
        if created >= n:
            seconds_to_all = timeline[-1][0]
            break
    counts = world.provider_net.counts
    unique = len({d["external_id"] for d in world.signrequest.documents()})
    bulk = BulkRun(n, unique, world.signrequest.create_calls, timeline, counts.calls, counts.rejected,
                   seconds_to_all)
    # Everyone signs at once; the connector completes them at the pace the provider's cap allows.
    wanted = set(ids)
    deadline = time.monotonic() + profile.replicas_budget
    while time.monotonic() < deadline and not wanted <= completed_opportunities(world.salesforce):
        sign_waiting(world.signrequest)
        time.sleep(0.5)
    completed = len(wanted & completed_opportunities(world.salesforce))
    calls = world.salesforce.total_api_calls - sf_before
    routes = world.salesforce.api_calls
    routes.subtract(routes_before)
    return ReplicaRun(count, bulk, calls / completed if completed else None, completed, [],
                      sf_calls_by_route={route: n for route, n in routes.most_common() if n > 0})


def _latencies(world, profile: Profile) -> list[float]:
    ids = make_deals(world.salesforce, profile.replicas_latency_signings, prefix="Latency")
    trigger(world.salesforce, ids)
    _wait(lambda: len(world.signrequest.awaiting_signature()) >= len(ids), profile.replicas_budget, 0.25)
    time.sleep(2.0)  # the "Sent" write-backs of the last requests
    by_request = {o["Signing_Request_Id__c"]: o["Id"] for o in world.salesforce.records("Opportunity")}
    signed_at, seen_at, stop = {}, {}, threading.Event()

    def watch() -> None:
        while not stop.is_set():
            now = time.monotonic()
            for opportunity in completed_opportunities(world.salesforce) & set(ids):
                seen_at.setdefault(opportunity, now)
            stop.wait(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    started = time.monotonic()
    for i, (document_uuid, email) in enumerate(world.signrequest.awaiting_signature()):
        time.sleep(max(0.0, started + i / profile.replicas_signing_rate - time.monotonic()))
        if by_request.get(document_uuid) in ids:
            signed_at[by_request[document_uuid]] = time.monotonic()
            world.signrequest.sign(document_uuid, email)
    _wait(lambda: len(seen_at) >= len(signed_at), 60, 0.2)
    stop.set()
    watcher.join(5)
    ended = time.monotonic()
    return [seen_at.get(o, ended) - t for o, t in signed_at.items()]


def _failover(world, replicas: list[DaemonProcess], url: str, run: ReplicaRun, profile: Profile) -> None:
    engine = create_engine(url, connect_args={"application_name": "benchmark"})
    try:
        healths = {replica: replica.health() for replica in replicas}
        leader = next(replica for replica, health in healths.items() if health.get("poller"))
        others = [replica for replica in replicas if replica is not leader]
        # The poller dies; a deal moved right after must still be sent, by whoever polls next.
        [deal] = make_deals(world.salesforce, 1, prefix="AfterLeader")
        before = world.signrequest.create_calls
        leader.process.send_signal(signal.SIGKILL)
        leader.process.wait(10)
        killed = time.monotonic()
        trigger(world.salesforce, [deal])
        run.leader_takeover = _since(killed, _wait(lambda: any(_poller(r) for r in others), 30, 0.05))
        run.leader_new_request = _since(killed, _wait(lambda: world.signrequest.create_calls > before, 30, 0.05))
        leader.start(timeout=60)  # back, as a follower
        # A replica that is not the poller dies while it holds jobs being sent.
        followers = {replica.health()["worker_id"]: replica for replica in replicas if not _poller(replica)}
        ids = make_deals(world.salesforce, profile.replicas_failover_deals, prefix="AfterWorker")

        def held(token: str) -> list[tuple[str, str, str | None]]:
            with engine.connect() as conn:
                return [tuple(row) for row in conn.execute(text(
                    "SELECT id, state, pending_effect FROM jobs WHERE lease_owner LIKE :token "
                    "AND lease_until > now()"), {"token": f"{token}:%"})]

        def mid_create() -> bool:
            caught.extend(t for t in followers if any(effect == "create" for _, _, effect in held(t)))
            return bool(caught)

        # Killed while creates are under way (marked, waiting for their turn or for the provider's reply): the
        # worst case, where the others must also wait until those creates can no longer be on their way. The
        # deals move a tenth at a time until a follower holds one: whichever replica claims first takes a batch.
        caught: list[str] = []
        step = max(1, len(ids) // 10)
        for start in range(0, len(ids), step):
            trigger(world.salesforce, ids[start:start + step])
            if _wait(mid_create, 3, 0.02) is not None:
                break
        if not caught:
            return
        token = caught[0]
        victim = followers[token]
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait(10)
        killed = time.monotonic()
        jobs = held(token)
        run.worker_held = len(jobs)
        run.worker_mid_create = sum(1 for _, _, effect in jobs if effect == "create")
        job_ids = [job_id for job_id, _, _ in jobs]
        sending = [job_id for job_id, state, _ in jobs if state == "new"]

        def taken_over() -> bool:
            with engine.connect() as conn:
                still = conn.scalar(text(
                    "SELECT count(*) FROM jobs WHERE id = ANY(:ids) AND lease_owner LIKE :token"),
                    {"ids": job_ids, "token": f"{token}:%"})
            return still == 0

        def resent() -> bool:
            with engine.connect() as conn:
                return conn.scalar(text("SELECT count(*) FROM jobs WHERE id = ANY(:ids) AND request_id IS NULL"),
                                   {"ids": sending}) == 0

        budget = 3 * (LEASE_SECONDS + 2 * CLIENT_TIMEOUT)
        run.worker_takeover = _since(killed, _wait(taken_over, budget, 0.05))
        run.worker_resent = _since(killed, _wait(resent, budget, 0.1))
        victim.start(timeout=60)
    finally:
        engine.dispose()


def _since(moment: float, waited: float | None) -> float | None:
    """Seconds from `moment` to now, if the wait that just ended succeeded."""
    return None if waited is None else time.monotonic() - moment


def _poller(replica: DaemonProcess) -> bool:
    try:
        return bool(replica.health().get("poller"))
    except Exception:  # noqa: BLE001 - a replica not answering is not the poller
        return False


def run(profile: Profile, conditions: Conditions) -> list[Figure]:
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        return [Figure("replicas", "skipped", None, "", note=f"set {POSTGRES_ENV} (a PostgreSQL URL) to run it")]
    databases = Databases(base)
    cap = conditions.provider_rate or 50.0
    runs = [run_replicas(profile, conditions, count, databases) for count in profile.replicas_counts]
    databases.admin.dispose()
    single = runs[0]
    figures = []
    for r in runs:
        n, size = r.replicas, f"N={r.replicas}"
        rate = r.bulk.sustained_rate()
        others = f"{r.bulk.created} of {r.bulk.target} created"
        figures += [
            Figure("replicas", f"N={n}: seconds until every request is created", r.bulk.seconds_to_all, "s",
                   r.bulk.target / cap / 0.95, "<=", size, f"{r.bulk.target:,} opportunities; {others}"),
            Figure("replicas", f"N={n}: sum of create rates / provider cap", 100 * rate / cap, "%", 95, ">=", size,
                   f"{rate:.1f} creates/s at a cap of {cap:.0f}/s, every replica set to {cap:.0f}/s"),
            Figure("replicas", f"N={n}: 429s received / provider calls",
                   100 * r.bulk.rejected / r.bulk.provider_calls if r.bulk.provider_calls else 0.0, "%", 1, "<",
                   size, f"{r.bulk.rejected} of {r.bulk.provider_calls} calls (429 only above the cap)"),
            Figure("replicas", f"N={n}: duplicate requests", r.bulk.create_calls - r.bulk.created, "", 0, "==", size),
            Figure("replicas", f"N={n}: Salesforce API calls per signing", r.sf_calls_per_signing, "",
                   round(1.1 * single.sf_calls_per_signing, 3) if single.sf_calls_per_signing else None, "<=", size,
                   f"{r.completed:,} signings, trigger to the last Files; target: N=1's + 10 %; by route: " +
                   ", ".join(f"{route} {n}" for route, n in r.sf_calls_by_route.items())),
            Figure("replicas", f"N={n}: completion latency p50", percentile(r.latencies, 0.5) if r.latencies else None,
                   "s", 1, "<=", size, f"{len(r.latencies)} signed at {profile.replicas_signing_rate:.0f}/s"),
            Figure("replicas", f"N={n}: completion latency p99",
                   percentile(r.latencies, 0.99) if r.latencies else None, "s", 3, "<=", size),
            Figure("replicas", f"N={n}: PostgreSQL connections per replica, highest", max(r.connections.values(),
                   default=None), "", POOL[0] + POOL[1] + 2, "<=", size,
                   "each process (restarts too): " + ", ".join(str(v) for v in sorted(r.connections.values())) +
                   f" (pool {POOL[0]} + overflow {POOL[1]} + election + listener)"),
        ]
        if n >= 2:
            figures += [
                Figure("replicas", f"N={n}: poller SIGKILLed -> another replica polls", r.leader_takeover, "s",
                       2 * POLL_SECONDS, "<=", size, f"poll interval {POLL_SECONDS:.0f}s"),
                Figure("replicas", f"N={n}: poller SIGKILLed -> a deal moved after it is sent", r.leader_new_request,
                       "s", None, "<=", size, "takeover, poll, job, PDF download, create"),
                Figure("replicas", f"N={n}: follower SIGKILLed -> its jobs claimed by others", r.worker_takeover, "s",
                       LEASE_SECONDS + 2, "<=", size, f"{r.worker_held} jobs held, {r.worker_mid_create} of them "
                       f"mid-create; lease {LEASE_SECONDS:.0f}s"),
                Figure("replicas", f"N={n}: follower SIGKILLed -> its creates under way sent", r.worker_resent, "s",
                       LEASE_SECONDS + 2 * CLIENT_TIMEOUT + 5, "<=", size,
                       f"lease {LEASE_SECONDS:.0f}s + 2 x provider timeout {CLIENT_TIMEOUT:.0f}s, then looked for"),
            ]
    return figures
