"""simple-salesforce behind one call wrapper: session refresh, retry policy, error translation, metering.

Policy per kind of failure:
- INVALID_SESSION_ID (401): log in again once and repeat the call once. The client is built in
  simple-salesforce's direct mode (session_id + instance_url), which never refreshes by itself.
- connection errors, timeouts, HTTP 5xx: repeated with exponential backoff and jitter (SALESFORCE_CALLS),
  for idempotent calls only; a write whose reply was lost may have been applied, so the job's own
  retry, which first checks what is already in Salesforce, takes over instead.
- UNABLE_TO_LOCK_ROW: repeated the same way for any call, since Salesforce rolled the write back.
- REQUEST_LIMIT_EXCEEDED: not repeated; raised as retriable so the job backs off.
- everything else: permanent, raised with Salesforce's code, the fields and what to do.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast
from urllib.parse import urlparse

import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError, SalesforceExpiredSession
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from adapters.salesforce.auth import SalesforceAuthenticator
from adapters.salesforce.errors import (
    REPEAT_AT_ONCE,
    SalesforceProblem,
    TransientSalesforceError,
    to_crm_error,
)
from connector.ports.crm import NOT_SENT, CRMError
from connector.ports.errors import ErrorKind
from connector.ports.retry import RetryPolicy
from connector.ports.send_deadline import SendWindowClosed, check_may_send

log = logging.getLogger(__name__)
T = TypeVar("T")


# Repeats inside one call. What is still failing after the last attempt goes back to the job.
SALESFORCE_CALLS = RetryPolicy(attempts=4, base_delay=0.5, cap=8.0, jitter=0.5)


def _retrying(policy: RetryPolicy, worth_repeating: Callable[[BaseException], bool], what: str,
              sleep: Callable[[float], None]) -> Retrying:
    def announce(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning("Salesforce: %s failed (%s); attempt %d of %d in %.1fs", what,
                    getattr(exc, "code", exc), state.attempt_number + 1, policy.attempts, state.upcoming_sleep)

    return Retrying(
        stop=stop_after_attempt(policy.attempts), wait=lambda state: policy.delay(state.attempt_number),
        retry=retry_if_exception(worth_repeating), sleep=sleep, before_sleep=announce, reraise=True,
    )


class _MeteredSession:
    """What simple-salesforce takes for its requests.Session: the caller's session (TLS trust, proxies)
    plus a default timeout, which simple-salesforce never sets, and a look at every reply."""

    def __init__(self, inner: requests.Session, timeout: float,
                 on_reply: Callable[[requests.Response], None]):
        self._inner = inner
        self._timeout = timeout
        self._on_reply = on_reply

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        check_may_send(method, urlparse(url).path)
        kwargs.setdefault("timeout", self._timeout)
        reply = self._inner.request(method, url, **kwargs)
        self._on_reply(reply)
        return reply

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class SalesforceClient:
    def __init__(self, authenticator: SalesforceAuthenticator, *, session: requests.Session,
                 api_version: str = "59.0", timeout: float = 30.0, retry: RetryPolicy = SALESFORCE_CALLS,
                 sleep: Callable[[float], None] = time.sleep):
        self.authenticator = authenticator
        self.api_version = api_version
        self.retry = retry
        self._sleep = sleep
        self._session = _MeteredSession(session, timeout, self._count)
        self._sf: Salesforce | None = None
        self._login_lock = threading.Lock()
        self._count_lock = threading.Lock()
        self._calls = 0
        self._calls_here = threading.local()
        self._usage: tuple[int, int] | None = None

    # --- metering --------------------------------------------------------------------------------

    @property
    def calls(self) -> int:
        """REST requests sent so far (logins excluded: they do not count against the API allocation)."""
        return self._calls

    @property
    def calls_in_this_thread(self) -> int:
        return getattr(self._calls_here, "value", 0)

    @property
    def api_usage(self) -> tuple[int, int] | None:
        """(used, allocation) over the org's rolling 24 hours, from the latest Sforce-Limit-Info header."""
        return self._usage

    def _count(self, reply: requests.Response) -> None:
        usage = Salesforce.parse_api_usage(reply.headers.get("Sforce-Limit-Info") or "").get("api-usage")
        with self._count_lock:
            self._calls += 1
            if usage is not None:
                self._usage = (usage.used, usage.total)
        self._calls_here.value = self.calls_in_this_thread + 1

    # --- calls -----------------------------------------------------------------------------------

    def call(self, what: str, operation: Callable[[Salesforce], T], *, idempotent: bool = True) -> T:
        """Run `operation` under the policy above; `what` names the call in errors and logs
        ("the poll query on Opportunity"). `operation` may raise TransientSalesforceError itself."""

        def worth_repeating(exc: BaseException) -> bool:
            return isinstance(exc, TransientSalesforceError) and (idempotent or exc.code in REPEAT_AT_ONCE)

        for attempt in _retrying(self.retry, worth_repeating, what, self._sleep):
            with attempt:
                return self._with_fresh_session(what, operation)
        raise AssertionError("unreachable")  # pragma: no cover - Retrying re-raises the last error

    def _with_fresh_session(self, what: str, operation: Callable[[Salesforce], T]) -> T:
        sf = self._connection()
        try:
            return operation(sf)
        except SendWindowClosed as exc:
            raise not_sent(exc, what) from None
        except SalesforceExpiredSession:
            log.info("Salesforce session expired during %s; logging in again", what)
        except (SalesforceError, requests.RequestException) as exc:
            raise translate(exc, what) from None
        sf = self._connection(replacing=sf)
        try:
            return operation(sf)
        except SendWindowClosed as exc:
            raise not_sent(exc, what) from None
        except (SalesforceError, requests.RequestException) as exc:
            raise translate(exc, what) from None

    def check_login(self) -> None:
        """Raise the login's CRMError if the credentials are refused; a session already held passes."""
        self._connection()

    def _connection(self, replacing: Salesforce | None = None) -> Salesforce:
        with self._login_lock:
            # Another thread may have logged in again already; one fresh session serves everyone.
            if self._sf is None or self._sf is replacing:
                self._sf = None  # a refused login leaves none: check_login (/readyz) tries again, and fails
                login = self.authenticator.login()
                self._sf = Salesforce(session_id=login.access_token, instance_url=login.instance_url,
                                      session=cast(requests.Session, self._session), version=self.api_version)
            return self._sf


def not_sent(exc: SendWindowClosed, what: str) -> CRMError:
    return CRMError(f"{what} was not sent: {exc}", code=NOT_SENT, kind=ErrorKind.BACKPRESSURE)


def translate(exc: Exception, what: str) -> CRMError:
    if isinstance(exc, requests.JSONDecodeError):
        return CRMError(f"Salesforce's reply to {what} was not JSON (a proxy in the way?)", kind=ErrorKind.TRANSIENT,
                        code="UNEXPECTED_REPLY")
    if isinstance(exc, requests.Timeout):
        return TransientSalesforceError(f"Salesforce did not answer {what} in time ({type(exc).__name__})",
                                        "TIMEOUT")
    if isinstance(exc, requests.RequestException):
        return TransientSalesforceError(f"could not reach Salesforce for {what} ({type(exc).__name__})",
                                        "CONNECTION")
    if isinstance(exc, SalesforceError):
        return to_crm_error(SalesforceProblem.from_body(exc.content, exc.status), what)
    return CRMError(f"{what} failed at Salesforce ({type(exc).__name__})", kind=ErrorKind.TRANSIENT, code="UNEXPECTED")
