"""The composition root: builds the daemon's parts from settings, and runs them.

`bootstrap` accepts fakes for every port, so tests build the same daemon around in-memory or
simulated parts. Nothing connects at import time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import requests
from apscheduler.schedulers.background import BackgroundScheduler

from adapters.transport.session import make_session, size_pools
from config.settings import Settings
from connector.documents.selection import PdfLimits
from connector.engine.delivery import check_embedded_delivery
from connector.engine.job_steps import JOB_RETRY, Engine, EngineOptions
from connector.inbound.dispatcher import EventDispatcher
from connector.inbound.server_guard import ServerLimits
from connector.inbound.webhooks import build_webhook_app
from connector.ports.crm import CRM, CRMError
from connector.ports.provider import SigningProvider
from connector.receipts.issuer import ReceiptIssuer
from connector.receipts.seal import SealKey
from connector.runtime import provider_registry
from connector.runtime.api_budget import ApiBudget
from connector.runtime.leader import Leadership, leadership_for
from connector.runtime.providers import build_providers, check_rules_have_providers
from connector.runtime.servers import RunningServer, serve_in_thread
from connector.runtime.wakeups import WakeListener
from connector.runtime.worker_pool import WorkerPool
from connector.store import EventCaps, Store
from connector.triggers.poller import Poller
from connector.writeback.batcher import WritebackBatcher
from connector.writeback.outcomes import WritebackBuilder
from mappings.models import MappingFile
from mappings.source import MappingSource

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Daemon:
    settings: Settings
    store: Store
    crm: CRM
    providers: dict[str, SigningProvider]
    mappings: MappingSource
    clock: Callable[[], datetime]
    budget: ApiBudget = field(init=False)
    engine: Engine = field(init=False)
    poller: Poller = field(init=False)
    dispatcher: EventDispatcher = field(init=False)
    leadership: Leadership = field(init=False)
    _scheduler: BackgroundScheduler | None = field(default=None, init=False)
    _pool: WorkerPool | None = field(default=None, init=False)
    _server: RunningServer | None = field(default=None, init=False)
    _listener: WakeListener | None = field(default=None, init=False)
    _batcher: WritebackBatcher = field(init=False)
    _ready: bool = field(default=False, init=False)
    _polling: threading.Lock = field(default_factory=threading.Lock, init=False)
    _work_lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        s = self.settings
        self.budget = ApiBudget(
            crm=self.crm, store=self.store, clock=self.clock, share=s.salesforce_api_budget_share,
            poll_interval=s.poll_interval_seconds, slowdown=s.salesforce_api_budget_slowdown,
            refresh_seconds=s.salesforce_api_usage_refresh_seconds,
        )
        self._batcher = WritebackBatcher(self.crm, linger_seconds=s.salesforce_writeback_linger_ms / 1000,
                                         max_batch=s.salesforce_writeback_batch_size)
        self.engine = Engine(
            store=self.store, providers=self.providers, crm=self._batcher,
            writebacks=WritebackBuilder(s.writeback), clock=self.clock, salesforce_wait=self.budget.wait,
            receipts=ReceiptIssuer(self.store, SealKey.load_or_create(s.receipt_key_path), self.clock),
            options=EngineOptions(
                callback_base_url=s.public_base_url,
                status_check_interval=timedelta(minutes=s.status_check_minutes),
                retry=replace(JOB_RETRY, attempts=s.max_attempts, base_delay=s.retry_base_seconds),
                lease_seconds=s.job_lease_seconds,
                pdf_limits=PdfLimits.from_settings(s),
                templates_dir=s.mappings_path.parent,
                signed_download_factor=s.signed_download_factor,
                signed_download_extra_bytes=s.signed_download_extra_bytes,
                create_settle=timedelta(seconds=s.provider_timeout_seconds),
                writeback_settle=timedelta(seconds=s.salesforce_timeout_seconds),
            ),
        )
        self.poller = Poller(
            store=self.store, crm=self.crm, mappings=lambda: self.mappings.current, clock=self.clock,
            overlap=timedelta(seconds=s.poll_overlap_seconds),
            initial_lookback=timedelta(minutes=s.poll_initial_lookback_minutes),
        )
        self.dispatcher = EventDispatcher(store=self.store, clock=self.clock,
                                          orphan_grace=timedelta(seconds=s.webhook_orphan_grace_seconds),
                                          wake_interval=timedelta(seconds=s.webhook_wake_interval_seconds))
        # Replicas on one PostgreSQL database elect one poller; alone on SQLite, this process always polls.
        self.leadership = leadership_for(self.store.url)

    # --- one round, for tests and for the scheduler -----------------------------------------

    def poll(self) -> None:
        with self._polling:  # stop() waits for a poll under way before it hands the role over
            self._poll()

    def _poll(self) -> None:
        if not self.leadership.check():
            return  # another replica polls; this one asks again at the next tick
        if not self.budget.poll_due():
            return
        try:
            self.poller.poll_once()
            self.wake_worker()  # new jobs, cancels: no need to wait for the idle tick
        except CRMError as exc:
            log.error("poll failed: %s; will try again in %.0fs", exc.message, self.settings.poll_interval_seconds)
        except Exception:  # noqa: BLE001 - a failed poll is retried on the next tick
            log.exception("poll failed; will try again in %.0fs", self.settings.poll_interval_seconds)
        self.budget.publish()

    def work(self, max_rounds: int = 20) -> None:
        """Match events to jobs and advance due jobs, one at a time, until none is due (or `max_rounds`).
        Tests drive the daemon with this, round by round; the running daemon uses its worker pool."""
        with self._work_lock:
            for _ in range(max_rounds):
                self.dispatcher.dispatch()
                if not self.engine.run_due():
                    break

    def run_once(self) -> None:
        self.poll()
        self.work()

    def check_api_budget(self) -> None:
        try:
            # Every replica shares its figure; only the poller asks Salesforce when all of them are quiet.
            self.budget.refresh_if_quiet(may_call=self.leadership.is_leader)
        except Exception:  # noqa: BLE001 - the next check tries again
            log.exception("Salesforce API usage check failed")

    def prune_events(self) -> int:
        """Delete the events handled more than the retention period ago; how many."""
        days = self.settings.events_retention_days
        if not days:
            return 0
        try:
            deleted = self.store.prune_events(self.clock() - timedelta(days=days))
        except Exception:  # noqa: BLE001 - the next run tries again
            log.exception("could not delete old webhook events")
            return 0
        if deleted:
            log.info("deleted %d webhook events handled more than %g days ago", deleted, days)
        return deleted

    def health(self) -> dict:
        return {"jobs": self.store.count_jobs_by_state(), "salesforce_api": self.budget.report(),
                "poller": self.leadership.is_leader, "worker_id": self.engine.worker_id}

    # --- running as a service --------------------------------------------------------------

    def webhook_app(self):
        s = self.settings
        return build_webhook_app(
            store=self.store, providers=self.providers, max_body_bytes=s.webhook_max_body_bytes,
            on_event=self.wake_worker, health=self.health, ready=self.ready,
            caps=EventCaps(per_request=s.webhook_max_events_per_request, unmatched=s.webhook_max_unmatched_events),
        )

    def ready(self) -> bool:
        """For /readyz: serving (schema migrated, workers started) and not shutting down."""
        return self._ready

    def wake_worker(self) -> None:
        if self._pool:
            self._pool.wake()

    def serve_webhooks(self) -> str:
        s = self.settings
        self._server = serve_in_thread(self.webhook_app(), host=s.webhook_host, port=s.webhook_port,
                                       limits=ServerLimits.from_settings(s))
        return self._server.url

    def start(self) -> str:
        s = self.settings
        url = self.serve_webhooks()
        scheduler = BackgroundScheduler(timezone=UTC)
        scheduler.add_job(self.poll, "interval", seconds=s.poll_interval_seconds, id="poll",
                          next_run_time=self.clock(), max_instances=1, coalesce=True)
        scheduler.add_job(self.check_api_budget, "interval", seconds=min(s.salesforce_api_usage_refresh_seconds, 60),
                          id="api-budget", next_run_time=self.clock(), max_instances=1, coalesce=True)
        scheduler.add_job(self.mappings.reload_if_changed, "interval", seconds=s.mappings_reload_seconds,
                          id="reload-mappings", max_instances=1, coalesce=True)
        scheduler.add_job(self.prune_events, "interval", hours=1, id="prune-events",
                          next_run_time=self.clock() + timedelta(minutes=5), max_instances=1, coalesce=True)
        self._pool = WorkerPool(claim=self.engine.claim, advance=self._advance_claimed,
                                dispatch=self.dispatcher.dispatch, workers=s.workers,
                                idle_seconds=s.work_interval_seconds, renew_leases=self.engine.renew_leases,
                                renew_seconds=s.job_lease_seconds / 3)
        self._pool.start()
        if self.store.engine.dialect.name == "postgresql":
            # Callbacks another replica records, jobs the poller creates: claimed here at once too.
            self._listener = WakeListener(self.store.url, on_wake=self.wake_worker)
            self._listener.start()
        scheduler.start()
        self._scheduler = scheduler
        self._ready = True
        log.info("daemon running: webhooks on %s, polling every %.0fs", url, s.poll_interval_seconds)
        return url

    def _advance_claimed(self, job) -> None:
        self.engine.advance(job, just_claimed=True)

    def stop(self, grace: float | None = None) -> bool:
        """Shut down, in the order a rolling restart needs: /readyz says 503 (the load balancer stops sending
        callbacks here), no more polls or claims, jobs claimed but not started are handed back at once, the
        steps under way finish (at most `grace` seconds; None: as long as they take), batched writebacks leave
        without lingering, the poller role is handed over, and the webhook server, which kept answering all
        along, closes last. True when every step finished within the grace."""
        deadline = None if grace is None else time.monotonic() + grace

        def left() -> float | None:
            return None if deadline is None else max(0.0, deadline - time.monotonic())

        self._ready = False
        if self._scheduler:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        self._batcher.flush()
        finished = True
        if self._pool:
            log.info("stopping: no more claims; waiting for %d step(s) under way", self._pool.busy)
            finished = self._pool.stop(timeout=left(), release=self._hand_back)
            self._pool = None
        polled = self._polling.acquire(timeout=-1 if deadline is None else max(0.0, deadline - time.monotonic()))
        if polled:
            self._polling.release()
        finished = finished and polled
        self.leadership.resign()  # another replica takes the polling over at its next tick
        if self._listener:
            self._listener.stop()
            self._listener = None
        if self._server:
            self._server.stop(graceful=True)
            self._server = None
        return finished

    def _hand_back(self, jobs: list) -> None:
        released = self.store.release_leases({job.id: job.lease_token for job in jobs if job.lease_token})
        log.info("stopping: handed back %d claimed job(s) not started, for another replica to take", released)


def store_for(settings: Settings, clock: Callable[[], datetime] | None = None) -> Store:
    """The daemon's state store. SQLite: a connection per worker thread. PostgreSQL: the pool the settings
    give, whatever the number of workers, so that replicas together stay under the server's max_connections;
    a transaction left idle for a job lease (a frozen process) is ended by the server, so that its row locks
    never keep another replica from taking its jobs over once their leases have run out."""
    if settings.database_url.startswith("sqlite"):
        return Store(settings.database_url, clock=clock, pool_size=settings.workers)
    return Store(settings.database_url, clock=clock, pool_size=settings.database_pool_size,
                 max_overflow=settings.database_max_overflow, pool_timeout=settings.database_pool_timeout_seconds,
                 idle_in_transaction_seconds=settings.job_lease_seconds)


def bootstrap(settings: Settings, *, crm: CRM | None = None, providers: dict[str, SigningProvider] | None = None,
              store: Store | None = None, mapping: MappingFile | None = None,
              clock: Callable[[], datetime] | None = None, http_session: requests.Session | None = None,
              require_https_downloads: bool | None = None) -> Daemon:
    clock = clock or utc_now
    if require_https_downloads is None:
        require_https_downloads = settings.provider_downloads_https_only
    if http_session is not None:
        size_pools(http_session, settings.workers)
    if store is None:
        store = store_for(settings, clock)
        store.migrate()
    if providers is None:
        providers = build_providers(settings, session=http_session, require_https_downloads=require_https_downloads,
                                    store=store)
    known = providers
    path = None if mapping else settings.mappings_path

    def check(m: MappingFile) -> None:
        check_rules_have_providers(m.rules, known)
        check_embedded_delivery(m, known, settings.writeback, path)

    mappings = MappingSource(path, initial=mapping, check=check, providers=provider_registry.names())
    if mapping is not None:
        check(mapping)
    if crm is None:
        from adapters.salesforce import build_crm

        crm = build_crm(settings, session=http_session or make_session(settings.salesforce_ca_bundle,
                                                                      pool_size=settings.workers))
    return Daemon(settings=settings, store=store, crm=crm, providers=providers, mappings=mappings, clock=clock)
