"""HTTP concerns every provider adapter shares: auth header, timeouts, the error taxonomy, retries of
idempotent calls, and guarded downloads of provider-supplied URLs.

Nothing here logs or raises with a credential in it: log lines carry method, path, status and duration;
error messages carry the provider's own explanation with the credential scrubbed out.
"""

from __future__ import annotations

import fnmatch
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlparse

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, stop_after_delay
from tenacity.stop import stop_base

from connector.ports.blobs import CHUNK, DEFAULT_SPOOL_BYTES, Blob, BlobTooLarge, BlobWriter
from connector.ports.provider import (
    ProviderAuthError,
    ProviderError,
    ProviderNotFound,
    ProviderNotSent,
    ProviderQuotaError,
    ProviderRateLimited,
    ProviderSendTooLate,
    ProviderTransientError,
    ProviderValidationError,
)
from connector.ports.retry import RetryPolicy
from connector.ports.send_deadline import SendWindowClosed, check_may_send

log = logging.getLogger(__name__)

_RETRIABLE = (ProviderTransientError, ProviderRateLimited)
_BAD_URL = (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema)
# A 403 whose body talks about money or plan limits is the account being out of credits, not a bad key.
_QUOTA_WORDS = re.compile(r"credit|quota|payment|billing|subscription|upgrade|plan limit|limit reached", re.I)
_MAX_DETAIL = 500
_MAX_REDIRECTS = 3


# Idempotent provider calls: a few quick tries inside the call. A Retry-After longer than the cap is not slept
# through here: the error goes back to the job, whose backoff honours `retry_after`.
PROVIDER_CALLS = RetryPolicy(attempts=4, base_delay=0.5, cap=20.0, jitter=0.5)
_MAX_TOTAL_WAIT = 60.0  # seconds since the first try, after which an idempotent call is not tried again


def _retrying(policy: RetryPolicy, sleep: Callable[[float], None]) -> Retrying:
    return Retrying(
        retry=retry_if_exception(_worth_repeating),
        stop=stop_after_attempt(policy.attempts) | stop_after_delay(_MAX_TOTAL_WAIT)
        | _stop_if_asked_to_wait_longer_than(policy.cap),
        wait=lambda state: policy.delay(state.attempt_number, asked=_retry_after_of(state)),
        sleep=sleep,
        before_sleep=_log_retry,
        reraise=True,
    )


class _stop_if_asked_to_wait_longer_than(stop_base):  # noqa: N801 - named like tenacity's own stop conditions
    def __init__(self, limit: float):
        self.limit = limit

    def __call__(self, retry_state: RetryCallState) -> bool:
        asked = _retry_after_of(retry_state)
        return asked is not None and asked > self.limit


def _worth_repeating(error: BaseException) -> bool:
    # A call refused for its effect's deadline would be refused again: only the job's next attempt helps.
    return isinstance(error, _RETRIABLE) and not isinstance(error, ProviderSendTooLate)


def _retry_after_of(state: RetryCallState) -> float | None:
    error = state.outcome.exception() if state.outcome else None
    return error.retry_after if isinstance(error, ProviderRateLimited) else None


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0.0
    log.info("attempt %d failed (%s); retrying in %.1f s", state.attempt_number, type(error).__name__, wait)


def retry_after_seconds(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP-date; None if absent or garbled."""
    if not value or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(text).timestamp() - now())
    except (TypeError, ValueError, IndexError):
        return None


_DEFAULT_PORTS = {"https": 443, "http": 80}


def split_host_pattern(pattern: str) -> tuple[str, int | None]:
    """(host pattern, port or None) from `host`, `host:port`, `[v6]` or `[v6]:port`; ValueError if malformed."""
    text = pattern.strip().lower()
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"download host pattern {pattern!r} is malformed")
        port_text = rest[1:] if rest else None
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        host, port_text = text, None  # a bare IPv6 address names no port
    if not host or any(not label for label in host.rstrip(".").split(".")):
        raise ValueError(f"download host pattern {pattern!r} has an empty name or label")
    if port_text is None:
        return host.rstrip("."), None
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"download host pattern {pattern!r} names no valid port")
    return host.rstrip("."), int(port_text)


def host_allowed(host: str, patterns: Sequence[str], *, port: int | None = None, scheme: str = "https") -> bool:
    """Whether `host` on `port` (None: the default port of `scheme`) matches one of `patterns`.

    A pattern is a host name whose labels may be shell-style wildcards, where `*` stands within one
    DNS label: `*.signrequest.com` admits `eu.signrequest.com`, not `a.b.signrequest.com`. A pattern
    admits only the scheme's default port (443, or 80 for http) unless it names one: `files.example.com:8443`.
    A malformed pattern admits nothing (settings refuse them at start-up)."""
    default = _DEFAULT_PORTS.get(scheme)
    port = default if port is None else port
    labels = host.lower().rstrip(".").split(".")
    if not all(labels):
        return False
    for pattern in patterns:
        try:
            name, named_port = split_host_pattern(pattern)
        except ValueError:
            continue
        wanted = name.split(".")
        if (default if named_port is None else named_port) == port and len(wanted) == len(labels) \
                and all(fnmatch.fnmatchcase(label, want) for label, want in zip(labels, wanted, strict=True)):
            return True
    return False


class ProviderHttp:
    """A `requests.Session` bound to one provider's API: base URL, credential, timeout, error taxonomy."""

    def __init__(self, *, provider: str, base_url: str, auth_header: str,
                 session: requests.Session | None = None, timeout: float = 30.0,
                 retry: RetryPolicy = PROVIDER_CALLS, wait_initial: float | None = None,
                 describe_error: Callable[[requests.Response], str] | None = None,
                 sleep: Callable[[float], None] = time.sleep, spool_bytes: int = DEFAULT_SPOOL_BYTES):
        self.provider = provider
        self.spool_bytes = spool_bytes  # a download larger than this goes to a temporary file
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()
        self.timeout = timeout
        self.retry = retry if wait_initial is None else replace(retry, base_delay=wait_initial)
        self._auth_header = auth_header
        self._secrets = _secret_parts(auth_header)
        self._describe = describe_error or (lambda response: response.text)
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"ProviderHttp(provider={self.provider!r}, base_url={self.base_url!r})"

    # --- API calls -----------------------------------------------------------------------------

    def request(self, method: str, path: str, *, idempotent: bool | None = None,
                **kwargs: Any) -> requests.Response:
        """Send one API request. GETs, and calls marked idempotent, are retried on transient errors and
        rate limits; anything else is sent exactly once (a retried create could sign a deal twice)."""
        if idempotent is None:
            idempotent = method.upper() in ("GET", "HEAD")
        if not idempotent:
            return self._once(method, path, **kwargs)
        for attempt in _retrying(self.retry, self._sleep):
            with attempt:
                return self._once(method, path, **kwargs)
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    def request_json(self, method: str, path: str, **kwargs: Any) -> Any:
        """`request`, then the JSON body; a 2xx whose body is not JSON counts as a transient fault."""
        response = self.request(method, path, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise ProviderTransientError(
                self.provider, f"{method} {urlparse(response.url).path} answered {response.status_code} "
                "with a body that is not JSON") from None

    def _once(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = path if path.startswith(("https://", "http://")) else f"{self.base_url}{path}"
        where = f"{method} {urlparse(url).path}"
        headers = {**kwargs.pop("headers", {}), "Authorization": self._auth_header}
        started = time.monotonic()
        try:
            check_may_send(method, where)
            response = self.session.request(method, url, headers=headers, timeout=self.timeout, **kwargs)
        except SendWindowClosed as exc:
            raise ProviderSendTooLate(self.provider, str(exc)) from None
        except _BAD_URL as exc:
            raise ProviderValidationError(self.provider, f"{where}: invalid URL ({type(exc).__name__})") \
                from None
        except requests.ConnectTimeout:
            # No connection was made, so nothing reached the provider.
            log.info("%s %s failed after %.0f ms: ConnectTimeout", self.provider, where, _ms_since(started))
            raise ProviderNotSent(self.provider, f"{where}: ConnectTimeout") from None
        except requests.RequestException as exc:
            failure = type(exc).__name__
            log.info("%s %s failed after %.0f ms: %s", self.provider, where, _ms_since(started), failure)
            raise ProviderTransientError(self.provider, f"{where}: {failure}") from None
        status = response.status_code
        level = logging.INFO if status >= 400 else logging.DEBUG
        log.log(level, "%s %s -> %d in %.0f ms", self.provider, where, status, _ms_since(started))
        if response.status_code >= 400:
            raise self.error_for(response)
        return response

    def error_for(self, response: requests.Response) -> ProviderError:
        """Translate a 4xx/5xx answer into the error taxonomy."""
        status = response.status_code
        detail = self._scrub(self._describe(response) or response.reason or "")[:_MAX_DETAIL]
        method = response.request.method if response.request is not None else "?"
        where = f"{method} {urlparse(response.url).path} answered {status}: {detail}"
        if status == 402 or (status == 403 and _QUOTA_WORDS.search(detail)):
            return ProviderQuotaError(self.provider, f"no signing credits left ({where})")
        if status in (401, 403):
            return ProviderAuthError(self.provider, f"the API credentials were refused ({where})")
        if status in (404, 410):
            return ProviderNotFound(self.provider, where)
        if status == 429:
            return ProviderRateLimited(self.provider, where,
                                       retry_after=retry_after_seconds(response.headers.get("Retry-After")))
        if status == 408 or status >= 500:
            return ProviderTransientError(self.provider, where)
        return ProviderValidationError(self.provider, f"the request was refused ({where})")

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    # --- downloads of provider-supplied links --------------------------------------------------

    def download(self, url: str, *, allowed_hosts: Sequence[str], max_bytes: int,
                 require_https: bool) -> bytes:
        """`download_blob`, all in memory."""
        return self.download_blob(url, allowed_hosts=allowed_hosts, max_bytes=max_bytes,
                                  require_https=require_https).read_bytes()

    def download_blob(self, url: str, *, allowed_hosts: Sequence[str], max_bytes: int,
                      require_https: bool) -> Blob:
        """Fetch a short-lived file link the provider handed us, without our credential, chunk by chunk
        into a `Blob` (a temporary file past `spool_bytes`), never more than `max_bytes`.

        Only hosts in `allowed_hosts` are contacted (including redirect targets), so a forged or
        tampered link cannot make the daemon reach internal addresses.
        """
        for _ in range(_MAX_REDIRECTS + 1):
            self._check_download_url(url, allowed_hosts, require_https)
            started = time.monotonic()
            try:
                with self.session.get(url, stream=True, timeout=self.timeout,
                                      allow_redirects=False) as response:
                    log.debug("%s download from %s -> %d in %.0f ms", self.provider, urlparse(url).hostname,
                              response.status_code, _ms_since(started))
                    if response.is_redirect:
                        url = urljoin(url, response.headers.get("Location", ""))
                        continue
                    self._check_download_answer(response, max_bytes)
                    return self._read_capped(response, max_bytes)
            except requests.RequestException as exc:
                failure = type(exc).__name__
                raise ProviderTransientError(self.provider, f"download failed: {failure}") from None
        raise ProviderTransientError(self.provider, f"download redirected more than {_MAX_REDIRECTS} times")

    def _check_download_url(self, url: str, allowed_hosts: Sequence[str], require_https: bool) -> None:
        parsed = urlparse(url)
        if parsed.scheme not in ("https", "http") or (require_https and parsed.scheme != "https"):
            raise ProviderValidationError(self.provider,
                                          f"refused to download from a non-HTTPS URL on {parsed.hostname}")
        try:
            port = parsed.port
        except ValueError:
            raise ProviderValidationError(self.provider, "refused to download from a URL with an invalid port") \
                from None
        if not parsed.hostname or not host_allowed(parsed.hostname, allowed_hosts, port=port, scheme=parsed.scheme):
            where = parsed.hostname if port is None else f"{parsed.hostname}:{port}"
            raise ProviderValidationError(self.provider, f"refused to download from {where}, "
                                          "which is not one of the provider's configured download hosts")

    def _check_download_answer(self, response: requests.Response, max_bytes: int) -> None:
        status = response.status_code
        if status == 429:
            raise self.error_for(response)
        if status >= 400:
            # File links are pre-signed and short-lived: a refusal usually means the link expired,
            # and reading the resource again mints a fresh one.
            raise ProviderTransientError(self.provider, f"the download link answered {status} (expired?)")
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise ProviderValidationError(self.provider, f"download larger than {max_bytes:,} bytes")

    def _read_capped(self, response: requests.Response, max_bytes: int) -> Blob:
        writer = BlobWriter(max_bytes=max_bytes, spool_bytes=self.spool_bytes)
        try:
            return writer.write_all(response.iter_content(CHUNK))
        except BlobTooLarge:
            raise ProviderValidationError(self.provider, f"download larger than {max_bytes:,} bytes") from None


def _secret_parts(auth_header: str) -> tuple[str, ...]:
    """The credential in an Authorization value ("Token abc", "ApiKey user:key"), and its pieces."""
    _, _, credential = auth_header.partition(" ")
    parts = {credential, *credential.split(":")}
    return tuple(sorted((p for p in parts if len(p) >= 6), key=len, reverse=True))


def _ms_since(started: float) -> float:
    return (time.monotonic() - started) * 1000
