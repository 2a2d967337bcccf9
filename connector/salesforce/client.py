"""simple-salesforce behind one call wrapper: session refresh, retry policy, error translation.

Retry policy, per error class, declared here once (tenacity):
- connection errors, timeouts, HTTP 5xx and UNABLE_TO_LOCK_ROW: retried with exponential backoff
  and jitter, for idempotent calls only (a lock error is retried for any call: it rolled back);
- INVALID_SESSION_ID: log in again once, then repeat the call;
- REQUEST_LIMIT_EXCEEDED: not hammered; raised as retriable for the job's own backoff;
- everything else: permanent, raised with Salesforce's code, message and fields.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError, SalesforceExpiredSession
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential, wait_random

from connector.crm import CRMError
from connector.salesforce.auth import SalesforceAuthenticator

log = logging.getLogger(__name__)
T = TypeVar("T")


class TransientSalesforceError(CRMError):
    def __init__(self, message: str, code: str):
        super().__init__(message, retriable=True, code=code)


def error_details(exc: SalesforceError) -> tuple[str, str, list]:
    content = exc.content
    if isinstance(content, list) and content and isinstance(content[0], dict):
        first = content[0]
        return first.get("errorCode", "UNKNOWN"), first.get("message", ""), first.get("fields") or []
    if isinstance(content, dict):
        return content.get("errorCode", "UNKNOWN"), content.get("message", ""), content.get("fields") or []
    return f"HTTP_{exc.status}", str(content)[:300], []


def translate(exc: Exception, what: str) -> CRMError:
    if isinstance(exc, requests.RequestException):
        return TransientSalesforceError(f"Salesforce {what}: {type(exc).__name__}", "CONNECTION")
    if isinstance(exc, SalesforceError):
        code, message, fields = error_details(exc)
        where = f" (fields: {', '.join(fields)})" if fields else ""
        text = f"Salesforce refused {what}: {code}: {message}{where}"
        if code == "UNABLE_TO_LOCK_ROW" or exc.status >= 500:
            return TransientSalesforceError(text, code)
        if code == "REQUEST_LIMIT_EXCEEDED":
            return CRMError(text + " — the org's API allocation is used up; the connector will try later",
                            retriable=True, code=code)
        return CRMError(text, retriable=False, code=code)
    return CRMError(f"Salesforce {what}: {type(exc).__name__}", retriable=True, code="UNEXPECTED")


class SalesforceClient:
    def __init__(self, authenticator: SalesforceAuthenticator, *, session: requests.Session, api_version: str,
                 max_attempts: int = 4, wait_initial: float = 0.5, wait_max: float = 10.0):
        self.authenticator = authenticator
        self.session = session
        self.api_version = api_version
        self.calls = 0
        self._sf: Salesforce | None = None
        self._lock = threading.Lock()
        self._retry = dict(stop=stop_after_attempt(max_attempts),
                           wait=wait_exponential(multiplier=wait_initial, max=wait_max) + wait_random(0, wait_initial),
                           reraise=True)

    def _client(self, refresh: bool = False) -> Salesforce:
        with self._lock:
            if self._sf is None or refresh:
                login = self.authenticator.login()
                self._sf = Salesforce(session_id=login.access_token, instance_url=login.instance_url,
                                      session=self.session, version=self.api_version)
            return self._sf

    @property
    def api_usage(self) -> tuple[int, int] | None:
        usage = (self._sf.api_usage if self._sf else {}).get("api-usage")
        return (usage.used, usage.total) if usage else None

    def call(self, what: str, operation: Callable[[Salesforce], T], *, idempotent: bool = True) -> T:
        """Run `operation` with the policy above; `what` names the call in errors and logs."""
        def retriable(exc: BaseException) -> bool:
            return isinstance(exc, TransientSalesforceError) and (idempotent or exc.code == "UNABLE_TO_LOCK_ROW")

        for attempt in Retrying(retry=retry_if_exception(retriable), **self._retry):
            with attempt:
                return self._once(what, operation)
        raise AssertionError("unreachable")  # pragma: no cover

    def _once(self, what: str, operation: Callable[[Salesforce], T]) -> T:
        sf = self._client()
        try:
            self.calls += 1
            return operation(sf)
        except SalesforceExpiredSession:
            log.info("Salesforce session expired; logging in again")
        except (SalesforceError, requests.RequestException) as exc:
            raise translate(exc, what) from None
        sf = self._client(refresh=True)
        try:
            self.calls += 1
            return operation(sf)
        except (SalesforceError, requests.RequestException) as exc:
            raise translate(exc, what) from None
