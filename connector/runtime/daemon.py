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
from connector.adminweb.app import AdminSources, admin_routes
from connector.adminweb.auth import AdminAuth
from connector.documents.selection import PdfLimits
from connector.engine.delivery import check_embedded_delivery
from connector.engine.job_steps import JOB_RETRY, Engine, EngineOptions
from connector.inbound.dispatcher import EventDispatcher
from connector.inbound.outbound_endpoint import OutboundMessageConfig, outbound_message_route
from connector.inbound.refusals import WebhookRefusals
from connector.inbound.server_guard import ServerLimits
from connector.inbound.webhooks import build_webhook_app
from connector.ports.change_feed import ChangeFeed
from connector.ports.crm import CRM, CRMError
from connector.ports.provider import SigningProvider
from connector.receipts.issuer import ReceiptIssuer
from connector.receipts.seal import SealKey
from connector.runtime import probes, provider_registry
from connector.runtime.api_budget import ApiBudget
from connector.runtime.leader import Leadership, leadership_for
from connector.runtime.metrics import CONTENT_TYPE, DaemonMetrics, StateSnapshot
from connector.runtime.providers import build_providers, check_rules_have_providers, provider_connections
from connector.runtime.push_source import PushSource
from connector.runtime.readiness import ReadinessChecks
from connector.runtime.servers import RunningServer, serve_in_thread
from connector.runtime.wakeups import WakeListener
from connector.runtime.worker_pool import WorkerPool
from connector.store import EventCaps, Store
from connector.triggers.outbound_messages import OutboundMessageSource
from connector.triggers.poller import Poller
from connector.triggers.push import ChangeIntake
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
    metrics: DaemonMetrics = field(default_factory=DaemonMetrics)
    http_session: requests.Session | None = None  # the providers' session: /readyz asks each provider through it
    change_feed: ChangeFeed | None = None
    budget: ApiBudget = field(init=False)
    readiness: ReadinessChecks = field(init=False)
    engine: Engine = field(init=False)
    poller: Poller = field(init=False)
    outbound_messages: OutboundMessageSource = field(init=False)
    dispatcher: EventDispatcher = field(init=False)
    leadership: Leadership = field(init=False)
    push: PushSource | None = field(default=None, init=False)
    refusals: WebhookRefusals = field(init=False)
    _scheduler: BackgroundScheduler | None = field(default=None, init=False)
    _pool: WorkerPool | None = field(default=None, init=False)
    _server: RunningServer | None = field(default=None, init=False)
    _listener: WakeListener | None = field(default=None, init=False)
    _batcher: WritebackBatcher = field(init=False)
    _ready: bool = field(default=False, init=False)
    _polling: threading.Lock = field(default_factory=threading.Lock, init=False)
    _work_lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    started_at: float = field(default_factory=time.time, init=False)
    _last_poll: float | None = field(default=None, init=False)
    _sweeping: bool = field(default=False, init=False)

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
            receipts=ReceiptIssuer(self.store, SealKey.load_or_create(s.receipt_key_path), self.clock,
                                   rotate=s.receipt_key_rotate, key_file=s.receipt_key_path),
            observer=self.metrics,
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
                downloads_side_by_side=s.downloads_side_by_side,
            ),
        )
        self.poller = Poller(
            store=self.store, crm=self.crm, mappings=lambda: self.mappings.current, clock=self.clock,
            overlap=timedelta(seconds=s.poll_overlap_seconds),
            initial_lookback=timedelta(minutes=s.poll_initial_lookback_minutes),
        )
        self.outbound_messages = OutboundMessageSource(store=self.store, crm=self.crm,
                                                       mappings=lambda: self.mappings.current,
                                                       observer=self.metrics, clock=self.clock)
        self.dispatcher = EventDispatcher(store=self.store, clock=self.clock,
                                          orphan_grace=timedelta(seconds=s.webhook_orphan_grace_seconds),
                                          wake_interval=timedelta(seconds=s.webhook_wake_interval_seconds))
        # Replicas on one PostgreSQL database elect one poller; alone on SQLite, this process always polls.
        self.leadership = leadership_for(self.store.url)
        self.readiness = ReadinessChecks(probes.readiness_checks(self), cache_seconds=s.readiness_cache_seconds)
        self.metrics.watch(self.metrics_snapshot)
        if self.change_feed is not None:
            intake = ChangeIntake(store=self.store, crm=self.crm, mappings=lambda: self.mappings.current,
                                  watching_since=self.clock(), catch_up=self.catch_up_poll, observer=self.metrics,
                                  clock=self.clock)
            self.push = PushSource(feed=self.change_feed, intake=intake, store=self.store, catch_up=self.catch_up_poll,
                                   may_run=lambda: self.leadership.is_leader, on_jobs=self.wake_worker,
                                   clock=self.clock)
        self.refusals = WebhookRefusals(self.clock)

    # --- one round, for tests and for the scheduler -----------------------------------------

    def poll(self) -> None:
        with self._polling:  # stop() waits for a poll under way before it hands the role over
            self._poll()

    def catch_up_poll(self) -> None:
        """A poll now, whatever the interval: the push source lost track of what changed."""
        with self._polling:
            self._last_poll = time.monotonic()
            self.poller.poll_once()
            self.metrics.poll_finished(time.time())

    def poll_interval(self) -> float:
        """Seconds between polls now: the reconciliation sweep's while change events flow, else the poll's."""
        s = self.settings
        sweeping = self.push is not None and self.push.healthy
        if sweeping != self._sweeping:
            self._sweeping = sweeping
            if sweeping:
                log.info("change events flow: polling every %.0fs, as a reconciliation sweep",
                         s.poll_sweep_interval_seconds)
            elif self.push is not None:
                log.warning("change events stopped: polling every %.0fs until they flow again",
                            s.poll_interval_seconds)
        return max(s.poll_sweep_interval_seconds, s.poll_interval_seconds) if sweeping else s.poll_interval_seconds

    def _poll_due(self) -> bool:
        interval = self.poll_interval()
        if self._last_poll is not None and interval > self.settings.poll_interval_seconds:
            # The scheduler ticks every poll interval; a sweep runs at the first tick its interval allows.
            if time.monotonic() - self._last_poll < interval - self.settings.poll_interval_seconds / 2:
                return False
        return self.budget.poll_due()

    def _poll(self) -> None:
        if not self.leadership.check():
            if self.push is not None:
                self.push.interrupt()
            return  # another replica polls; this one asks again at the next tick
        if not self._poll_due():
            return
        self._last_poll = time.monotonic()
        try:
            self.poller.poll_once()
            self.metrics.poll_finished(time.time())
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

    def prune_notifications(self) -> int:
        """Forget Outbound Message notification Ids taken longer ago than Salesforce retries them."""
        hours = self.settings.outbound_message_ids_retention_hours
        try:
            return self.store.prune_notifications(self.clock() - timedelta(hours=hours))
        except Exception:  # noqa: BLE001 - the next run tries again
            log.exception("could not delete old outbound message notification ids")
            return 0

    def health(self) -> dict:
        """The detailed state (jobs by state and by outcome, API budget, poller role, readiness): for the admin
        page, behind its authentication; /healthz itself tells nothing."""
        outcomes: dict[str, int] = {}
        for (state, outcome, _, _), count in self.store.count_jobs_by_kind().items():
            if state == "done":
                outcomes[outcome or "unknown"] = outcomes.get(outcome or "unknown", 0) + count
        return {"jobs": self.store.count_jobs_by_state(), "outcomes": outcomes,
                "salesforce_api": self.budget.report(), "poller": self.leadership.is_leader,
                "worker_id": self.engine.worker_id, "ready": self._ready and all(self.readiness.last.values()),
                "push": self.push.report() if self.push else {"state": "off"},
                "poll_interval_seconds": self.poll_interval()}

    def metrics_snapshot(self) -> StateSnapshot:
        """The state gauges of /metrics, read at each scrape."""
        return probes.metrics_snapshot(self)

    def log_summary(self) -> None:
        """One INFO line for the period instead of one per poll: what happened, and the jobs waiting."""
        tally = self.metrics.take_tally()
        counts = self.store.count_jobs_by_state()
        waiting = {state: n for state, n in counts.items() if state != "done"}
        happened = ", ".join(f"{n} {what}" for what, n in sorted(tally.items())) or "nothing new"
        log.info("in the last %.0fs: %s; jobs now: %s", self.settings.log_summary_seconds, happened,
                 ", ".join(f"{n} {state}" for state, n in sorted(waiting.items())) or "none under way")

    def trim_timelines(self) -> None:
        try:
            self.store.trim_timelines()
        except Exception:  # noqa: BLE001 - the next run tries again
            log.exception("could not trim the job timelines")

    # --- running as a service --------------------------------------------------------------

    def webhook_app(self):
        s = self.settings
        app = build_webhook_app(
            store=self.store, providers=self.providers, max_body_bytes=s.webhook_max_body_bytes,
            on_event=self.wake_worker, ready=self.ready, checks=self.readiness, refusals=self.refusals,
            caps=EventCaps(per_request=s.webhook_max_events_per_request, unmatched=s.webhook_max_unmatched_events),
            metrics=self.metrics.render, metrics_content_type=CONTENT_TYPE, observer=self.metrics,
            metrics_token=s.metrics_token.get_secret_value() if s.metrics_token else None,
            extra_routes=self._push_routes() + self._admin_routes(),
        )
        return app

    def _admin_routes(self) -> list:
        auth = AdminAuth.from_settings(self.settings)
        if auth is None:  # /admin/ answers 404, as any unknown path
            return []
        return admin_routes(auth, AdminSources(
            store=self.store, health=self.health, budget=self.budget.report, rules=lambda: self.mappings.current,
            last_reload=lambda: self.mappings.last_reload, refusals=self.refusals, record_url=self.crm.record_url,
            providers=lambda: sorted(self.providers), on_resume=self.wake_worker))

    def _push_routes(self) -> list:
        s = self.settings
        if s.salesforce_outbound_message_token is None or not s.salesforce_org_id:
            return []
        config = OutboundMessageConfig(token=s.salesforce_outbound_message_token.get_secret_value(),
                                       organization_id=s.salesforce_org_id,
                                       action_ids=s.outbound_message_action_ids,
                                       max_body_bytes=s.webhook_max_body_bytes)
        return [outbound_message_route(config, self.outbound_messages, on_created=self.wake_worker,
                                       observer=self.metrics)]

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
        if s.log_summary_seconds:
            scheduler.add_job(self.log_summary, "interval", seconds=s.log_summary_seconds, id="log-summary",
                              max_instances=1, coalesce=True)
        scheduler.add_job(self.prune_notifications, "interval", hours=1, id="prune-notifications",
                          next_run_time=self.clock() + timedelta(minutes=5), max_instances=1, coalesce=True)
        scheduler.add_job(self.trim_timelines, "interval", hours=1, id="trim-timelines",
                          next_run_time=self.clock() + timedelta(minutes=7), max_instances=1, coalesce=True)
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
        if self.push is not None:
            self.push.start()
        self._ready = True
        log.info("daemon running: webhooks on %s, polling every %.0fs%s", url, s.poll_interval_seconds,
                 f" (every {s.poll_sweep_interval_seconds:.0f}s while change events flow)" if self.push else "")
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
        if self.push is not None:
            self.push.stop(timeout=left())
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
              require_https_downloads: bool | None = None, change_feed: ChangeFeed | None = None) -> Daemon:
    clock = clock or utc_now
    if require_https_downloads is None:
        require_https_downloads = settings.provider_downloads_https_only
    if http_session is not None:
        size_pools(http_session, settings.workers)
    if store is None:
        store = store_for(settings, clock)
        store.migrate()
    metrics = DaemonMetrics()
    provider_session = http_session
    if providers is None:
        provider_session = http_session or make_session(pool_size=provider_connections(settings))
        providers = build_providers(settings, session=provider_session,
                                    require_https_downloads=require_https_downloads, store=store, observer=metrics)
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
    if change_feed is None and settings.salesforce_cdc_enabled:
        from adapters.salesforce import build_change_feed

        change_feed = build_change_feed(settings, session=http_session)
    return Daemon(settings=settings, store=store, crm=crm, providers=providers, mappings=mappings, clock=clock,
                  metrics=metrics, http_session=provider_session, change_feed=change_feed)
