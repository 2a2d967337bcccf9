"""One simulated run: the real daemon (engine, planner, store, poller, dispatcher, writeback batcher, built by
`connector.runtime.daemon.bootstrap`) around the simulated ports, driven by a single-threaded scheduler on a simulated
clock. No thread is started and nothing sleeps: the same seed gives a byte-identical run.

The model
- The scheduler picks the earliest of: the outside world's next action (timeline: a stage entry, a signer, a
  callback delivery, a slow reply's effect landing), the daemon's restart, its next poll, its next work turn (a
  dispatch, then claim-one-and-advance until nothing is due, as the worker pool does). The clock jumps there.
- A crash (SimCrash) unwinds the whole daemon. The harness starts a new one (new worker id, new batcher and
  dispatcher) on the same database 2-30 s later; the dead daemon's leases expire on the simulated clock.
- A call that takes simulated time (a timeout, a slow reply) lets the world run meanwhile: callbacks arrive, other
  due jobs advance through a second worker of the same process, and the process's heartbeat renews the leases it
  holds every lease/3 (WorkerPool's heartbeat thread), so nobody takes this call's job over.
- A stall (lease_expiry_*) freezes the whole process, heartbeat included, for longer than the lease: meanwhile a
  second daemon on the same database works (its own heartbeat, its own crashes) and takes over the stalled job.
- Faults inside the activity that runs during a call are instantaneous ones only. That activity runs in a context
  of its own (contextvars), as another thread would: the send window of the call in flight is not its own.
- Polls run every 30 s while the poll cursor is behind the latest change in the org, from the change or from a
  daemon's start (the polls in between, and a start's poll with the cursor up to date, would find nothing new).
- Random faults stop at the end of the scenario's active period; the run then goes on, calm, until every job has
  ended and nothing is left on the timeline (or 12 h more have passed: what is unfinished then is stuck).
"""

from __future__ import annotations

import contextvars
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from connector.runtime.daemon import Daemon, bootstrap
from connector.store import NewEvent
from connector.triggers.poller import CURSOR_KEY
from tests.simulation.clock import START, Timeline, seconds
from tests.simulation.determinism import pinned
from tests.simulation.environment import SimEnvironment
from tests.simulation.faults import SimCrash, known_fault_pairs, known_scenario_features
from tests.simulation.faulty_ports import FaultyCall, FaultyCRM, FaultyProvider, ProviderErrors, SalesforceErrors
from tests.simulation.injector import Fault, FaultPlan, Injector, RandomFaults, ScriptedFaults
from tests.simulation.invariants import check_all
from tests.simulation.result import RunConfig, RunResult
from tests.simulation.scenario import named_scenario, scenario_for_seed
from tests.simulation.sim_provider import ProviderEvent
from tests.simulation.witness import Witness
from tests.simulation.world import OutsideWorld

CALM = timedelta(hours=12)
WORK_TICK = timedelta(seconds=1)  # the worker pool's idle tick: a job left due is claimed again this much later
POLL_EVERY = timedelta(seconds=30)
MAX_CLAIMS_PER_TURN = 50


def run(config: RunConfig, env: SimEnvironment) -> RunResult:
    """One run; one that stops on an unexpected error (a harness bug, or an error where the daemon has no handler)
    is a failed run with its replay command, not the end of an exploration."""
    simulation = Simulation(config, env)
    try:
        return simulation.run()
    except Exception as exc:  # noqa: BLE001 - reported as the run's outcome
        return simulation.result([f"the run stopped on an unexpected {type(exc).__name__}: {exc}"], 0)


_UNFINISHED = "SELECT next_run_at, lease_until FROM jobs WHERE state NOT IN ('done', 'parked')"


def _timestamp(value: datetime | str | None) -> datetime | None:
    """A timestamp as the driver returns it: a datetime (PostgreSQL) or its text (SQLite), always as UTC."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


class Simulation:
    def __init__(self, config: RunConfig, env: SimEnvironment):
        env.reset()
        self.config = config
        self.env = env
        avoid = known_scenario_features() if config.skip_known_bugs else frozenset()
        self.scenario = (named_scenario(config.scenario) if config.scenario
                         else scenario_for_seed(config.seed, avoid=avoid))
        self.settings = env.settings(status_check_minutes=self.scenario.status_check_minutes,
                                     signing_url_field=self.scenario.embedded_signer)
        self.mapping = env.mapping(self.scenario.rules_yaml())
        self.lease_seconds = self.settings.job_lease_seconds
        self.clock = env.clock
        self.store = env.store
        self.timeline = Timeline()
        self.trace: list[str] = []
        self.rng = random.Random(f"world:{config.seed}")
        self.witness = Witness(START)
        self.faults_until = START + self.scenario.last_event_offset()
        self.end_at = self.faults_until + CALM
        self.injector = Injector(self._plan(), self.clock, config.seed, on_fault=self._note_fault)
        self.store.injector = self.injector
        self.world = OutsideWorld(scenario=self.scenario, clock=self.clock, timeline=self.timeline, rng=self.rng,
                                  injector=self.injector, witness=self.witness, store=self.store,
                                  document=env.quote_pdf, note=self._note, webhook=self._webhook,
                                  on_org_change=self._org_changed)
        self.provider, self.crm = self.world.provider, self.world.crm
        self.ports_provider = FaultyProvider(self.provider, FaultyCall(
            self, ProviderErrors(self.provider.name), self.settings.provider_timeout_seconds))
        self.ports_crm = FaultyCRM(self.crm, FaultyCall(
            self, SalesforceErrors(), self.settings.salesforce_timeout_seconds, on_relogin=self._relogin))
        self.daemon: Daemon | None = None  # the process; None while it is down
        self.sibling: Daemon | None = None  # another worker of the same process, busy while a call is in flight
        self.peer: Daemon | None = None  # another daemon process on the same database, busy while this one stalls
        self.frozen = False  # the process stalls (a lease_expiry_* fault): only the peer and the world go on
        self.booted_at = START
        self.heartbeat = timedelta(seconds=self.settings.job_lease_seconds / 3)  # as Daemon.start sets it
        self.next_heartbeat_at: datetime | None = None
        self.restart_at = START
        self.next_poll_at: datetime | None = None
        self.dispatch_at: datetime | None = None
        self.last_turn_at: datetime | None = None
        self.last_change: datetime | None = None
        self.incarnation = 0
        self._dispatched_by: Daemon | None = None  # a daemon's first turn dispatches whatever it finds recorded
        self._times: list[tuple[datetime, datetime | None]] = []
        self._times_read_at = -1

    def _plan(self) -> FaultPlan:
        c = self.config
        if c.inject is not None:
            return ScriptedFaults(dict(c.inject), c.then)
        skip = known_fault_pairs() if c.skip_known_bugs else frozenset()
        return RandomFaults(c.seed, c.rate, c.kinds, skip, lambda: self.faults_until, max_faults=c.max_faults)

    # --- running ---------------------------------------------------------------------------------

    def run(self) -> RunResult:
        with pinned(self.config.seed):
            self.world.schedule_scenario()
            try:
                self._run_until(self.end_at, depth=0)
            finally:
                self._end_processes()
            jobs = self.store.list_jobs()
            rule = self.mapping.rules[0]
            checked = check_all(jobs=jobs, provider=self.provider, crm=self.crm, witness=self.witness,
                                reminder_count=rule.reminders.count if rule.reminders else None,
                                reminder_interval=timedelta(days=rule.reminders.interval_days if rule.reminders
                                                            else 1),
                                receipt_head=self.store.receipts.head())
        return self.result(checked.problems, checked.checks)

    def result(self, problems: list[str], invariants_checked: int) -> RunResult:
        self.store.injector = None
        return RunResult(self.config, START, self.injector.points, self.injector.faults, problems,
                         invariants_checked, self.trace, postgres=self.env.dialect == "postgresql")

    def _run_until(self, until: datetime, *, depth: int) -> None:
        while True:
            times = self._job_times()
            if depth == 0 and self._finished(times):
                return
            chosen = self._next_step(times, depth)
            if chosen is None or chosen[0] > until:
                return
            at, _, step = chosen
            self.clock.move_to(max(at, self.clock()))
            if depth and not self.frozen:
                step()  # a crash here kills the whole process, the call in flight included
                continue
            try:
                step()
            except SimCrash as crash:
                if depth:  # the process is stalled: what crashed is the peer daemon
                    self._note(f"the peer daemon crashes at {crash}")
                    if self.peer is not None:
                        self.peer.leadership.resign()
                    self.peer = None
                else:
                    self._on_crash(crash)

    def _next_step(self, times: list[tuple[datetime, datetime | None]],
                   depth: int) -> tuple[datetime, int, Callable[[], None]] | None:
        options: list[tuple[datetime, int, Callable[[], None]]] = []
        if (at := self.timeline.next_time()) is not None:
            options.append((at, 0, self._run_timeline))
        if self.daemon is None:
            if depth == 0:
                options.append((self.restart_at, 1, self._restart))
        elif depth == 0 or self._worker(depth) is not None:
            if depth and self.next_heartbeat_at is not None:
                options.append((self.next_heartbeat_at, 2, self._beat))
            if self.next_poll_at is not None:
                options.append((self.next_poll_at, 3, lambda: self._poll(self._worker(depth))))
            if (at := self._next_work_at(times)) is not None:
                options.append((at, 4, lambda: self._work_turn(self._worker(depth), depth)))
        return min(options, key=lambda option: option[:2]) if options else None

    def _finished(self, times: list) -> bool:
        return (self.clock() >= self.faults_until and not times and not len(self.timeline)
                and not self._poll_behind())

    def _job_times(self) -> list[tuple[datetime, datetime | None]]:
        """(next_run_at, lease_until) of every unfinished job: a plain query, made again only after a commit
        (every change to the jobs table is one), since it is needed before every step."""
        if self._times_read_at != self.store.commits:
            with self.store.engine.connect() as connection:
                rows = connection.exec_driver_sql(_UNFINISHED).fetchall()
            self._times = [(_timestamp(due), _timestamp(lease)) for due, lease in rows]
            self._times_read_at = self.store.commits
        return self._times

    def _claimable_now(self) -> bool:
        now = self.clock()
        return any(due <= now and (lease is None or lease < now) for due, lease in self._job_times())

    def _next_work_at(self, times: list[tuple[datetime, datetime | None]]) -> datetime | None:
        claimable = [max(due, lease + timedelta(microseconds=1)) if lease else due for due, lease in times]
        candidates = [t for t in (*claimable, self.dispatch_at) if t is not None]
        if not candidates:
            return None
        at = min(candidates)
        if self.last_turn_at is not None and at <= self.last_turn_at:
            at = self.last_turn_at + WORK_TICK
        return at

    def _worker(self, depth: int) -> Daemon | None:
        """Who works now: the daemon; during a call, its second worker; during a stall, the peer (if alive)."""
        if depth == 0:
            return self.daemon
        if self.frozen:
            return self.peer
        if self.sibling is None:
            self.sibling = self._boot()
            self.sibling.leadership = self.daemon.leadership  # one process, one poller election
        return self.sibling

    def _beat(self) -> None:
        """The heartbeat threads: the process's (unless stalled) and the peer's renew the leases they hold."""
        assert self.next_heartbeat_at is not None
        self.next_heartbeat_at += self.heartbeat
        engines = [] if self.frozen else [d.engine for d in (self.daemon, self.sibling) if d is not None]
        if self.frozen and self.peer is not None:
            engines.append(self.peer.engine)
        for engine in engines:
            self._guarded(f"daemon {self.incarnation}", "renewing job leases", engine.renew_leases)

    # --- the daemon --------------------------------------------------------------------------------

    def _boot(self) -> Daemon:
        # A start that cannot reach the database exits before it has done anything (the receipt-key check is
        # its first query); these runs explore what a running process does, so its start is not a fault point.
        injector, self.store.injector = self.store.injector, None
        try:
            return bootstrap(self.settings, crm=self.ports_crm, providers={self.provider.name: self.ports_provider},
                             store=self.store, mapping=self.mapping, clock=self.clock)
        finally:
            self.store.injector = injector

    def _restart(self) -> None:
        self.incarnation += 1
        self.booted_at = self.clock()
        self.daemon = self._boot()
        self._note(f"daemon {self.incarnation} starts (worker {self.daemon.engine.worker_id})")
        if self._poll_behind():  # the scheduler's first poll, at start; with nothing new to find, left out
            self.next_poll_at = self.clock()

    def _on_crash(self, crash: SimCrash) -> None:
        self.restart_at = self.clock() + seconds(self.rng.uniform(2, 30))
        self._note(f"daemon {self.incarnation} crashes at {crash}")
        self._end_processes()
        self.frozen = False

    def _end_processes(self) -> None:
        """What the OS does for a process that died: its database sessions end, and with them the poller's
        advisory lock on PostgreSQL (Leadership.resign closes that session)."""
        for daemon in {id(d): d for d in (self.daemon, self.sibling, self.peer) if d is not None}.values():
            daemon.leadership.resign()
        self.daemon = self.sibling = self.peer = None
        self.next_poll_at = self.dispatch_at = None

    def _poll(self, daemon: Daemon) -> None:
        self.next_poll_at = None
        self._guarded(f"daemon {self.incarnation}", "poll", daemon.poll)  # APScheduler logs a job's error
        if self._poll_behind():
            self.next_poll_at = self.clock() + POLL_EVERY

    def _poll_behind(self) -> bool:
        if self.last_change is None:
            return False
        cursor = self.store.get_value(CURSOR_KEY)
        return cursor is None or datetime.fromisoformat(cursor) < self.last_change

    def _work_turn(self, daemon: Daemon, depth: int) -> None:
        """What the worker pool does on a wake-up or an idle tick: dispatch the events recorded since the last
        dispatch (the dispatcher thread), then claim due jobs one by one and advance each (the claimer and a
        worker). A turn with nothing claimable left ends without the empty claim, which would change nothing."""
        self.last_turn_at = self.clock()
        who = "peer daemon" if depth and self.frozen else (
            f"daemon {self.incarnation}" + (" (second worker)" if depth else ""))
        if self.dispatch_at is not None or daemon is not self._dispatched_by:
            self.dispatch_at = None
            if self._guarded(who, "dispatch", daemon.dispatcher.dispatch) is None:
                self.dispatch_at = self.clock() + timedelta(seconds=0.5)  # the dispatcher thread's next round
            else:
                self._dispatched_by = daemon
        for _ in range(MAX_CLAIMS_PER_TURN):
            if not self._claimable_now():
                return
            claimed = self._guarded(who, "claim", lambda: daemon.engine.claim(1))
            if not claimed:
                return
            job = claimed[0]
            before = job.state
            self._guarded(who, f"advancing job {job.id[:8]}",
                          lambda j=job: daemon.engine.advance(j, just_claimed=True))
            self._note(f"{who}: job {job.id[:8]} {before} -> {job.state}"
                       + (f" (last error: {job.last_error})" if job.last_error else ""))

    def _guarded(self, who: str, what: str, action: Callable[[], object]) -> object:
        """As the worker pool: an unexpected error is logged and the work goes on (a crash is no error)."""
        try:
            return action()
        except Exception as exc:  # noqa: BLE001 - what WorkerPool._work and _guarded do
            self._note(f"{who}: {what} failed: {type(exc).__name__}: {exc}")
            return None

    # --- what a port call in flight asks of the world (faulty_ports.World) --------------------------

    def now(self) -> datetime:
        return self.clock()

    def elapse(self, duration: timedelta) -> None:
        self._pass(duration)

    def stall(self, duration: timedelta) -> None:
        self._note(f"daemon {self.incarnation} stalls for {duration.total_seconds():.0f}s")
        if self.peer is None:
            self.peer = self._boot()
        self.frozen = True
        try:
            self._pass(duration)
        finally:
            self.frozen = False
        self._note(f"daemon {self.incarnation} wakes up")

    def _pass(self, duration: timedelta) -> None:
        """Run the world until `duration` from now, in a context of its own (as another thread would), with the
        heartbeat ticking where the process's heartbeat thread would tick."""
        until = self.clock() + duration
        ticks = -(-(self.clock() - self.booted_at) // self.heartbeat)  # ceiling: the next tick from the boot
        self.next_heartbeat_at = self.booted_at + ticks * self.heartbeat
        self.injector.depth += 1
        try:
            contextvars.Context().run(self._run_until, until, depth=1)
        finally:
            self.injector.depth -= 1
            self.next_heartbeat_at = None
        self.clock.move_to(max(until, self.clock()))

    def land_later(self, at: datetime, label: str, effect: Callable[[], object]) -> None:
        """An effect already on its way lands at `at`, whatever send window is open then (it left long ago)."""
        self.timeline.schedule(at, label, lambda: contextvars.Context().run(self._quietly, effect))

    @staticmethod
    def _quietly(effect: Callable[[], object]) -> None:
        try:
            effect()
        except Exception:  # noqa: BLE001, S110 - nobody is listening for the outcome of a late effect
            pass

    def _relogin(self) -> None:
        self.crm.relogins += 1

    # --- where the outside world meets the daemon --------------------------------------------------------

    def _run_timeline(self) -> None:
        entry = self.timeline.pop_due(self.clock())
        if entry is not None:
            self._note(entry.label)
            entry.action()

    def _org_changed(self) -> None:
        self.last_change = self.clock()
        if self.daemon is not None:
            due = self.clock() + seconds(self.rng.uniform(0, POLL_EVERY.total_seconds()))
            self.next_poll_at = min(self.next_poll_at or due, due)

    def _webhook(self, event: ProviderEvent) -> bool:
        """The webhook endpoint: acknowledged once recorded (EventIngest's contract), refused while down."""
        if self.daemon is None:
            return False
        new = NewEvent(provider=self.provider.name, event_id=event.event_id, request_id=event.request_id,
                       external_id=event.external_id, kind=event.kind, informational=not event.final)
        try:
            [fresh] = self.store.record_events([new])  # None: over the caps, acknowledged and not kept
        except Exception:  # noqa: BLE001 - answered 503: the provider retries
            return False
        if fresh and event.final:
            due = self.clock() + seconds(self.rng.uniform(0.05, 0.5))  # the dispatcher is woken at once
            self.dispatch_at = min(self.dispatch_at or due, due)
        return True

    # --- the record ------------------------------------------------------------------------------------

    def _note(self, line: str) -> None:
        total = int((self.clock() - START).total_seconds())
        self.trace.append(f"t+{total // 3600}:{total // 60 % 60:02d}:{total % 60:02d} {line}")

    def _note_fault(self, fault: Fault) -> None:
        self._note(f"FAULT #{fault.index} {fault.point}: {fault.kind}")
