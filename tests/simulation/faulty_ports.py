"""The two ports as the daemon sees them: every call goes through the fault injector before it reaches the
simulated provider or org.

A write request leaves only while its effect's send window is open (connector.ports.send_deadline: the engine opens it
for the job's lease), as the real adapters check just before a write goes out; past it, nothing is sent and the
port's "not sent" error is raised. What each fault means for one call (`timeout`: the port's client timeout, 30 s
by default):
- crash_before / crash_after: SimCrash before the request leaves, or after its effect (the reply never read).
- timeout_done / timeout_not_done: the call takes `timeout` of simulated time (the world goes on meanwhile), then
  raises the port's retriable timeout error; the effect happened at the start of the call, or not at all.
- slow_reply: as a timeout, but the effect of a write lands later, at a time drawn in
  (start + timeout, start + timeout + LATE_EFFECT_BOUND x timeout]: a server still processing a request the client
  gave up on. THE BOUND: an effect lands at most one client timeout after the client gave up on it (what the
  engine's create_settle and writeback_settle allow for, counted from the failure).
- lease_expiry_mid_call: the request leaves (its effect lands at once, or for a read, the answer is read), then
  the whole process stalls (GC, VM pause: its lease heartbeat stops too) for lease + 1..120 s, while another
  daemon on the same database goes on and may take the job over; then the reply arrives, as old as the stall.
- lease_expiry_before_send: the process stalls the same way just before a write leaves; when it wakes, the send
  window has closed (the lease ran out), so nothing is sent.
- queued_past_lease: a write waits lease + 1..120 s to leave (behind a rate limiter, a busy connection pool) while
  the process lives: its heartbeat keeps renewing the lease, so the window stays open and the write then goes.
- server_error / rate_limited: 503, or 429 with Retry-After 1..120 s (Salesforce: REQUEST_LIMIT_EXCEEDED, back
  pressure); nothing done.
- session_expired: Salesforce refuses the session (nothing done); the client logs in again and repeats the call
  once, as SalesforceClient does. session_refused: the fresh session is refused too: INVALID_SESSION_ID, retriable.

Invariant: no effect of a write whose send window had closed when it would have left; and apart from slow_reply's
late effect, an effect lands inside its call or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from connector.ports.crm import CRM, NOT_SENT, CRMError, Opportunity, PollResult, Writeback, WritebackResult
from connector.ports.errors import ErrorKind
from connector.ports.provider import (
    Blob,
    ProviderRateLimited,
    ProviderSendTooLate,
    ProviderTransientError,
    RequestRef,
    RequestStatus,
    SignedFile,
    SigningProvider,
    SigningRequestSpec,
    WebhookEvent,
)
from connector.ports.send_deadline import SendWindowClosed, check_may_send
from tests.simulation.faults import FaultKind, SimCrash, is_mutating
from tests.simulation.injector import Injector
from tests.simulation.sim_crm import SimCRM
from tests.simulation.sim_provider import SimProvider

T = TypeVar("T")
LATE_EFFECT_BOUND = 1.0  # a slow reply's effect lands at most this many timeouts after the client gave up


class World(Protocol):
    """What a port call needs from the harness: the injector, the clock, and ways to let time pass."""

    injector: Injector
    lease_seconds: float

    def now(self) -> datetime: ...

    def elapse(self, duration: timedelta) -> None:
        """Let `duration` of simulated time pass while this call is in flight; the rest of the world runs."""

    def stall(self, duration: timedelta) -> None:
        """Freeze this whole process for `duration` (no heartbeat); another daemon and the world go on."""

    def land_later(self, at: datetime, label: str, effect: Callable[[], object]) -> None: ...


class ErrorStyle(Protocol):
    def timeout(self, point: str, seconds: float) -> Exception: ...

    def server_error(self, point: str) -> Exception: ...

    def rate_limited(self, point: str, retry_after: float) -> Exception: ...

    def session_refused(self, point: str) -> Exception: ...

    def not_sent(self, point: str, why: str) -> Exception: ...


class ProviderErrors:
    def __init__(self, name: str):
        self.name = name

    def timeout(self, point: str, seconds: float) -> Exception:
        return ProviderTransientError(self.name, f"{point}: no reply in {seconds:.0f}s")

    def server_error(self, point: str) -> Exception:
        return ProviderTransientError(self.name, f"{point}: HTTP 503")

    def rate_limited(self, point: str, retry_after: float) -> Exception:
        return ProviderRateLimited(self.name, f"{point}: HTTP 429", retry_after=retry_after)

    def session_refused(self, point: str) -> Exception:  # pragma: no cover - not a provider fault
        raise AssertionError("providers have no Salesforce session")

    def not_sent(self, point: str, why: str) -> Exception:
        return ProviderSendTooLate(self.name, f"{point}: {why}")


class SalesforceErrors:
    def timeout(self, point: str, seconds: float) -> Exception:
        return CRMError(f"Salesforce did not answer {point} in time", kind=ErrorKind.TRANSIENT, code="TIMEOUT")

    def server_error(self, point: str) -> Exception:
        return CRMError(f"Salesforce refused {point}: HTTP_503", kind=ErrorKind.TRANSIENT, code="HTTP_503")

    def rate_limited(self, point: str, retry_after: float) -> Exception:
        return CRMError(f"Salesforce refused {point}: REQUEST_LIMIT_EXCEEDED", code="REQUEST_LIMIT_EXCEEDED",
                        kind=ErrorKind.BACKPRESSURE)

    def session_refused(self, point: str) -> Exception:
        return CRMError(f"Salesforce refused {point}: INVALID_SESSION_ID", kind=ErrorKind.TRANSIENT,
                        code="INVALID_SESSION_ID")

    def not_sent(self, point: str, why: str) -> Exception:
        return CRMError(f"{point} was not sent: {why}", code=NOT_SENT, kind=ErrorKind.BACKPRESSURE)


class FaultyCall:
    """Runs one port call under the fault the injector picks for it."""

    def __init__(self, world: World, errors: ErrorStyle, timeout_seconds: float,
                 on_relogin: Callable[[], None] = lambda: None):
        self.world = world
        self.errors = errors
        self.timeout = timedelta(seconds=timeout_seconds)
        self.on_relogin = on_relogin

    def __call__(self, point: str, effect: Callable[[], T]) -> T:
        kind = self.world.injector.at(point)
        if kind is None:
            self._leave(point)
            return effect()
        rng = self.world.injector.rng()
        seconds = self.timeout.total_seconds()
        match kind:
            case FaultKind.CRASH_BEFORE:
                raise SimCrash(point)
            case FaultKind.SERVER_ERROR:
                raise self.errors.server_error(point)
            case FaultKind.RATE_LIMITED:
                raise self.errors.rate_limited(point, retry_after=rng.uniform(1, 120))
            case FaultKind.SESSION_REFUSED:
                self.on_relogin()
                raise self.errors.session_refused(point)
            case FaultKind.TIMEOUT_NOT_DONE:
                self.world.elapse(self.timeout)
                raise self.errors.timeout(point, seconds)
            case FaultKind.LEASE_EXPIRY_BEFORE_SEND:
                self.world.stall(self._stall(rng))
                self._leave(point)  # the window has closed by now, unless the lease was renewed meanwhile
                return effect()
            case FaultKind.QUEUED_PAST_LEASE:
                self.world.elapse(self._stall(rng))
                self._leave(point)
                return effect()
        self._leave(point)  # the kinds below send the request
        match kind:
            case FaultKind.CRASH_AFTER:
                _quietly(effect)
                raise SimCrash(point)
            case FaultKind.SESSION_EXPIRED:
                self.on_relogin()
                return effect()
            case FaultKind.TIMEOUT_DONE:
                _quietly(effect)
                self.world.elapse(self.timeout)
                raise self.errors.timeout(point, seconds)
            case FaultKind.SLOW_REPLY:
                if is_mutating(point):
                    late = self.timeout * (1 + LATE_EFFECT_BOUND * rng.uniform(0.01, 1.0))
                    self.world.land_later(self.world.now() + late, f"late effect of {point}", effect)
                self.world.elapse(self.timeout)
                raise self.errors.timeout(point, seconds)
            case FaultKind.LEASE_EXPIRY_MID_CALL:
                answer = effect()  # landed (a write) or read (a read) as the request arrived
                self.world.stall(self._stall(rng))
                return answer
        raise AssertionError(f"{kind} is not a port-call fault")

    def _stall(self, rng) -> timedelta:
        return timedelta(seconds=self.world.lease_seconds + rng.uniform(1, 120))

    def _leave(self, point: str) -> None:
        """As the adapters do just before a write request goes out: not at all once its send window closed."""
        if not is_mutating(point):
            return
        try:
            check_may_send("POST", point)
        except SendWindowClosed as exc:
            raise self.errors.not_sent(point, str(exc)) from None


def _quietly(effect: Callable[[], object]) -> None:
    """The effect of a call whose reply is lost: if the far end refused it, the caller never hears that either."""
    try:
        effect()
    except Exception:  # noqa: BLE001, S110 - the reply, error or not, is what gets lost
        pass


class FaultyProvider(SigningProvider):
    def __init__(self, inner: SimProvider, call: FaultyCall):
        self.inner = inner
        self.call = call
        self.name = inner.name
        self.display_name = inner.display_name
        self.capabilities = inner.capabilities

    def create(self, spec: SigningRequestSpec) -> RequestRef:
        return self.call("provider.create", lambda: self.inner.create(spec))

    def find_by_external_id(self, external_id: str) -> RequestRef | None:
        return self.call("provider.find_by_external_id", lambda: self.inner.find_by_external_id(external_id))

    def resume(self, ref: RequestRef) -> None:
        return self.call("provider.resume", lambda: self.inner.resume(ref))

    def get_status(self, ref: RequestRef) -> RequestStatus:
        return self.call("provider.get_status", lambda: self.inner.get_status(ref))

    def download_signed(self, ref: RequestRef, max_bytes: int | None = None) -> list[SignedFile]:
        return self.call("provider.download_signed", lambda: self.inner.download_signed(ref, max_bytes))

    def download_evidence(self, ref: RequestRef, max_bytes: int | None = None) -> SignedFile:
        return self.call("provider.download_evidence", lambda: self.inner.download_evidence(ref, max_bytes))

    def cancel(self, ref: RequestRef) -> None:
        return self.call("provider.cancel", lambda: self.inner.cancel(ref))

    def send_reminder(self, ref: RequestRef) -> None:
        return self.call("provider.send_reminder", lambda: self.inner.send_reminder(ref))

    def signing_url(self, ref: RequestRef, signer_email: str) -> str:
        return self.call("provider.signing_url", lambda: self.inner.signing_url(ref, signer_email))

    def callback_path(self) -> str:
        return self.inner.callback_path()

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        return self.inner.parse_webhook(headers, body)


class FaultyCRM(CRM):
    def __init__(self, inner: SimCRM, call: FaultyCall):
        self.inner = inner
        self.call = call

    def poll_opportunities(self, stages: Sequence[str], modified_since: datetime | None,
                           fields: Sequence[str] = ()) -> PollResult:
        return self.call("crm.poll_opportunities",
                         lambda: self.inner.poll_opportunities(stages, modified_since, fields))

    def get_opportunity(self, opportunity_id: str, fields: Sequence[str] = ()) -> Opportunity | None:
        return self.call("crm.get_opportunity", lambda: self.inner.get_opportunity(opportunity_id, fields))

    def download_file(self, version_id: str) -> Blob:
        return self.call("crm.download_file", lambda: self.inner.download_file(version_id))

    def apply(self, writeback: Writeback) -> WritebackResult:
        return self.call("crm.apply", lambda: self.inner.apply(writeback))

    def apply_many(self, writebacks: Sequence[Writeback]) -> list[WritebackResult | CRMError]:
        return self.call("crm.apply_many", lambda: self.inner.apply_many(writebacks))

    def missing_parts(self, writeback: Writeback) -> Writeback:
        return self.call("crm.missing_parts", lambda: self.inner.missing_parts(writeback))

    def file_versions(self, opportunity_id: str, checksums: Sequence[str]) -> dict[str, str]:
        return self.call("crm.file_versions", lambda: self.inner.file_versions(opportunity_id, checksums))

    @property
    def api_calls(self) -> int:
        return self.inner.api_calls

    @property
    def api_usage(self) -> tuple[int, int] | None:
        return self.inner.api_usage

    def refresh_api_usage(self) -> None:
        self.inner.refresh_api_usage()
