"""HTTP concerns every provider adapter shares: auth header, timeouts, error taxonomy, retries of
idempotent calls, and guarded downloads of provider-supplied URLs."""

from __future__ import annotations

import fnmatch
import logging
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from urllib.parse import urlparse

import requests
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential, wait_random

from adapters.base import (
    ProviderAuthError,
    ProviderError,
    ProviderNotFound,
    ProviderQuotaError,
    ProviderRateLimited,
    ProviderTransientError,
    ProviderValidationError,
)

log = logging.getLogger(__name__)
_RETRIABLE = (ProviderTransientError, ProviderRateLimited)


def retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def host_allowed(host: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(host.lower(), p.lower()) for p in patterns)


class ProviderHttp:
    def __init__(self, *, provider: str, base_url: str, auth_header: str, session: requests.Session | None = None,
                 timeout: float = 30.0, max_attempts: int = 4, wait_initial: float = 0.5, wait_max: float = 20.0,
                 describe_error: Callable[[requests.Response], str] | None = None):
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self._auth_header = auth_header
        self.session = session or requests.Session()
        self.timeout = timeout
        self._describe = describe_error or (lambda r: r.text[:300])
        self._max_attempts = max_attempts
        self._wait = wait_exponential(multiplier=wait_initial, max=wait_max) + wait_random(0, wait_initial)

    def _wait_for(self, state) -> float:
        exc = state.outcome.exception()
        planned = self._wait(state)
        return max(planned, exc.retry_after or 0) if isinstance(exc, ProviderRateLimited) else planned

    def request(self, method: str, path: str, *, idempotent: bool | None = None, **kwargs) -> requests.Response:
        """Send one API request; GETs (and calls marked idempotent) are retried on passing errors."""
        idempotent = method == "GET" if idempotent is None else idempotent
        if not idempotent:
            return self._once(method, path, **kwargs)
        retrying = Retrying(retry=retry_if_exception_type(_RETRIABLE), stop=stop_after_attempt(self._max_attempts),
                            wait=self._wait_for, reraise=True)
        for attempt in retrying:
            with attempt:
                return self._once(method, path, **kwargs)
        raise AssertionError("unreachable")  # pragma: no cover

    def _once(self, method: str, path: str, **kwargs) -> requests.Response:
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        headers = {"Authorization": self._auth_header, **kwargs.pop("headers", {})}
        started = time.monotonic()
        try:
            response = self.session.request(method, url, headers=headers, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise ProviderTransientError(self.provider, f"{method} {urlparse(url).path}: {type(exc).__name__}") \
                from None
        log.debug("%s %s %s -> %d in %.0f ms", self.provider, method, urlparse(url).path, response.status_code,
                  (time.monotonic() - started) * 1000)
        if response.status_code >= 400:
            raise self.error_for(response)
        return response

    def error_for(self, response: requests.Response) -> ProviderError:
        status, detail = response.status_code, self._describe(response)
        where = f"{response.request.method} {urlparse(response.url).path} answered {status}: {detail}"
        if status in (401, 403):
            return ProviderAuthError(self.provider, f"the API credentials were refused ({where})")
        if status == 402:
            return ProviderQuotaError(self.provider, f"no signing credits left ({where})")
        if status == 404:
            return ProviderNotFound(self.provider, where)
        if status == 429:
            return ProviderRateLimited(self.provider, where,
                                       retry_after=retry_after_seconds(response.headers.get("Retry-After")))
        if status == 408 or status >= 500:
            return ProviderTransientError(self.provider, where)
        return ProviderValidationError(self.provider, f"the request was refused: {detail}")

    def download(self, url: str, *, allowed_hosts: list[str], max_bytes: int, require_https: bool) -> bytes:
        """Fetch a provider-supplied URL, only from the provider's own hosts (no SSRF)."""
        parsed = urlparse(url)
        if parsed.scheme not in ("https", "http") or (require_https and parsed.scheme != "https"):
            raise ProviderValidationError(self.provider,
                                          f"refused to download from a non-HTTPS URL on {parsed.hostname}")
        if not parsed.hostname or not host_allowed(parsed.hostname, allowed_hosts):
            raise ProviderValidationError(
                self.provider, f"refused to download from {parsed.hostname}, which is not one of the provider's "
                "configured download hosts")
        try:
            with self.session.get(url, stream=True, timeout=self.timeout, allow_redirects=False) as response:
                if response.status_code >= 400:
                    raise self.error_for(response)
                if response.is_redirect:
                    raise ProviderTransientError(self.provider, "download redirected; not followed")
                content = bytearray()
                for chunk in response.iter_content(64 * 1024):
                    content.extend(chunk)
                    if len(content) > max_bytes:
                        raise ProviderValidationError(self.provider, f"download larger than {max_bytes:,} bytes")
                return bytes(content)
        except requests.RequestException as exc:
            raise ProviderTransientError(self.provider, f"download failed: {type(exc).__name__}") from None
