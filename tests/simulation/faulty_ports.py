"""The two ports as the daemon sees them: every call goes through the fault injector before it reaches the
simulated provider or org.

What each fault means for one call (`timeout` is the port's client timeout, 30 s by default):
- crash_before / crash_after: SimCrash before the effect, or after it (the reply never read).
- timeout_done / timeout_not_done: the call takes `timeout` of simulated time (the world goes on meanwhile), then
  raises the port's retriable timeout error; the effect happened at the start of the call, or not at all.
- slow_reply: as a timeout, but the effect of a mutating call lands later, at a time drawn in
  (start + timeout, start + timeout + LATE_EFFECT_BOUND x timeout]: a server still processing a request the client
  gave up on. That bound is what the engine may assume; see `create_settle` in connector/engine.py.
- lease_expiry_mid_call: the call takes longer than the job's lease (lease + 1..120 s, e.g. a large transfer), the
  world goes on meanwhile (another worker may take the job over). A write lands at the end, with the reply; a read
  answers as of the start, so its answer is that old when it arrives.
- server_error / rate_limited: 503, or 429 with Retry-After 1..120 s (Salesforce: REQUEST_LIMIT_EXCEEDED); nothing
  done.
- session_expired: Salesforce refuses the session (nothing done); the client logs in again and repeats the call
  once, as SalesforceClient does. session_refused: the fresh session is refused too: INVALID_SESSION_ID, retriable.

Invariant: apart from slow_reply's late effect, an effect lands either inside the call or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from adapters.base import (
    Blob,
    ProviderRateLimited,
    ProviderTransientError,
    RequestRef,
    RequestStatus,
    SignedFile,
    SigningProvider,
    SigningRequestSpec,
    WebhookEvent,
)
from connector.crm import CRM, CRMError, Opportunity, PollResult, Writeback, WritebackResult
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

    def land_later(self, at: datetime, label: str, effect: Callable[[], object]) -> None: ...


class ErrorStyle(Protocol):
    def timeout(self, point: str, seconds: float) -> Exception: ...

    def server_error(self, point: str) -> Exception: ...

    def rate_limited(self, point: str, retry_after: float) -> Exception: ...

    def session_refused(self, point: str) -> Exception: ...


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


class SalesforceErrors:
    def timeout(self, point: str, seconds: float) -> Exception:
        return CRMError(f"Salesforce did not answer {point} in time", retriable=True, code="TIMEOUT")

    def server_error(self, point: str) -> Exception:
        return CRMError(f"Salesforce refused {point}: HTTP_503", retriable=True, code="HTTP_503")

    def rate_limited(self, point: str, retry_after: float) -> Exception:
        return CRMError(f"Salesforce refused {point}: REQUEST_LIMIT_EXCEEDED", retriable=True,
                        code="REQUEST_LIMIT_EXCEEDED")

    def session_refused(self, point: str) -> Exception:
        return CRMError(f"Salesforce refused {point}: INVALID_SESSION_ID", retriable=True, code="INVALID_SESSION_ID")


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
            return effect()
        rng = self.world.injector.rng()
        seconds = self.timeout.total_seconds()
        match kind:
            case FaultKind.CRASH_BEFORE:
                raise SimCrash(point)
            case FaultKind.CRASH_AFTER:
                _quietly(effect)
                raise SimCrash(point)
            case FaultKind.SERVER_ERROR:
                raise self.errors.server_error(point)
            case FaultKind.RATE_LIMITED:
                raise self.errors.rate_limited(point, retry_after=rng.uniform(1, 120))
            case FaultKind.SESSION_EXPIRED:
                self.on_relogin()
                return effect()
            case FaultKind.SESSION_REFUSED:
                self.on_relogin()
                raise self.errors.session_refused(point)
            case FaultKind.TIMEOUT_DONE:
                _quietly(effect)
                self.world.elapse(self.timeout)
                raise self.errors.timeout(point, seconds)
            case FaultKind.TIMEOUT_NOT_DONE:
                self.world.elapse(self.timeout)
                raise self.errors.timeout(point, seconds)
            case FaultKind.SLOW_REPLY:
                if is_mutating(point):
                    late = self.timeout * (1 + LATE_EFFECT_BOUND * rng.uniform(0.01, 1.0))
                    self.world.land_later(self.world.now() + late, f"late effect of {point}", effect)
                self.world.elapse(self.timeout)
                raise self.errors.timeout(point, seconds)
            case FaultKind.LEASE_EXPIRY_MID_CALL:
                duration = timedelta(seconds=self.world.lease_seconds + rng.uniform(1, 120))
                if is_mutating(point):  # the worst case: the write lands at the very end
                    self.world.elapse(duration)
                    return effect()
                answer = effect()  # a read answers as of its start; the answer is as old as the call when it arrives
                self.world.elapse(duration)
                return answer
        raise AssertionError(f"{kind} is not a port-call fault")


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

    @property
    def api_calls(self) -> int:
        return self.inner.api_calls

    @property
    def api_usage(self) -> tuple[int, int] | None:
        return self.inner.api_usage

    def refresh_api_usage(self) -> None:
        self.inner.refresh_api_usage()
