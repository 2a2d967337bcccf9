"""The shared provider HTTP client: retry policy, Retry-After, error translation, guarded downloads."""

from __future__ import annotations

import logging

import pytest
import requests
import responses

from adapters.transport.http import ProviderHttp, host_allowed, retry_after_seconds, split_host_pattern
from connector.ports.provider import (
    ProviderAuthError,
    ProviderQuotaError,
    ProviderRateLimited,
    ProviderTransientError,
    ProviderValidationError,
)
from connector.ports.retry import RetryPolicy

API = "https://api.example.com/v1"
FILES = ["files.example.com", "*.cdn.example.com"]


def client(sleeps: list[float] | None = None, **policy) -> ProviderHttp:
    recorded = sleeps if sleeps is not None else []
    return ProviderHttp(provider="Example", base_url=f"{API}/", auth_header="ApiKey someone:very-secret-key",
                        retry=RetryPolicy(base_delay=0, jitter=0, **policy), sleep=recorded.append)


@pytest.mark.parametrize(("header", "seconds"), [
    ("120", 120.0), (" 1.5 ", 1.5), ("-3", 0.0), ("Thu, 01 Jan 1970 00:02:00 GMT", 60.0),
    ("Thu, 01 Jan 1970 00:00:30 GMT", 0.0), ("soon", None), ("", None), (None, None),
])
def test_retry_after_takes_seconds_or_an_http_date(header, seconds):
    assert retry_after_seconds(header, now=lambda: 60.0) == seconds


@pytest.mark.parametrize(("host", "allowed"), [
    ("files.example.com", True), ("FILES.example.com", True), ("eu.cdn.example.com", True),
    ("files.example.com.", True), ("cdn.example.com", False), ("evilcdn.example.com", False),
    ("files.example.com.evil.io", False), ("files..example.com", False), (".cdn.example.com", False),
    # `*` is one label, as config/example.env says: it used to match across dots.
    ("a.b.cdn.example.com", False), ("evil.io.cdn.example.com", False),
])
def test_host_patterns(host, allowed):
    assert host_allowed(host, FILES) is allowed


@pytest.mark.parametrize(("host", "port", "scheme", "allowed"), [
    ("files.example.com", None, "https", True), ("files.example.com", 443, "https", True),
    ("files.example.com", 80, "http", True), ("files.example.com", None, "http", True),
    # Ports the patterns do not name: refused (they used to pass unchecked).
    ("files.example.com", 8443, "https", False), ("files.example.com", 22, "https", False),
    ("files.example.com", 443, "http", False), ("eu.cdn.example.com", 6379, "https", False),
    # A pattern that names a port admits that port, and only it.
    ("sim.example.com", 8443, "https", True), ("sim.example.com", 8443, "http", True),
    ("sim.example.com", None, "https", False), ("sim.example.com", 8444, "https", False),
    ("::1", 9000, "http", True), ("::1", None, "http", False),
])
def test_host_patterns_check_the_port(host, port, scheme, allowed):
    patterns = [*FILES, "sim.example.com:8443", "[::1]:9000"]
    assert host_allowed(host, patterns, port=port, scheme=scheme) is allowed


@pytest.mark.parametrize("pattern", ["files.example.com:", "files.example.com:0", "files.example.com:99999",
                                     "files.example.com:https", "*..example.com", "", "[::1", "[::1]x"])
def test_malformed_host_patterns_admit_nothing_and_are_named(pattern):
    with pytest.raises(ValueError, match="download host pattern"):
        split_host_pattern(pattern)
    assert not host_allowed("files.example.com", [pattern])


@responses.activate
def test_downloads_refuse_a_port_no_pattern_names():
    responses.get("https://files.example.com/a.pdf", status=302,
                  headers={"Location": "https://eu.cdn.example.com:6379/a.pdf"})
    with pytest.raises(ProviderValidationError, match=r"refused to download from eu.cdn.example.com:6379"):
        client().download("https://files.example.com/a.pdf", allowed_hosts=FILES, max_bytes=100, require_https=True)
    with pytest.raises(ProviderValidationError, match="invalid port"):
        client().download("https://files.example.com:99999/a.pdf", allowed_hosts=FILES, max_bytes=100,
                          require_https=True)
    assert len(responses.calls) == 1


@responses.activate
def test_retry_after_is_slept_through_when_short():
    responses.get(f"{API}/things", status=429, headers={"Retry-After": "3"})
    responses.get(f"{API}/things", json={"ok": True})
    sleeps: list[float] = []
    assert client(sleeps).request_json("GET", "/things") == {"ok": True}
    assert sleeps == [3.0]


@responses.activate
def test_backoff_is_capped_and_attempts_are_bounded():
    responses.get(f"{API}/things", status=502)
    sleeps: list[float] = []
    with pytest.raises(ProviderTransientError):
        client(sleeps, attempts=3).request("GET", "/things")
    assert len(responses.calls) == 3 and sleeps == [0.0, 0.0]


@responses.activate
def test_only_calls_marked_idempotent_are_retried():
    responses.post(f"{API}/things", status=503)
    responses.put(f"{API}/things", status=503)
    with pytest.raises(ProviderTransientError):
        client().request("POST", "/things", json={})
    with pytest.raises(ProviderTransientError):
        client().request("PUT", "/things", json={}, idempotent=True)
    assert [c.request.method for c in responses.calls] == ["POST", "PUT", "PUT", "PUT", "PUT"]


@responses.activate
def test_validation_errors_are_not_retried():
    responses.get(f"{API}/things", status=400, body="no such filter")
    with pytest.raises(ProviderValidationError, match="no such filter"):
        client().request("GET", "/things")
    assert len(responses.calls) == 1


@responses.activate
def test_credentials_are_scrubbed_from_messages_and_logs(caplog):
    caplog.set_level(logging.DEBUG)
    responses.get(f"{API}/things", status=401, body="key very-secret-key for someone:very-secret-key refused")
    with pytest.raises(ProviderAuthError) as refused:
        client().request("GET", "/things")
    assert "very-secret-key" not in str(refused.value) and "very-secret-key" not in caplog.text
    assert "GET /v1/things answered 401" in str(refused.value)


@pytest.mark.parametrize(("status", "body", "error"), [
    (403, "Monthly quota exceeded", ProviderQuotaError), (403, "Forbidden", ProviderAuthError),
    (429, "", ProviderRateLimited), (408, "", ProviderTransientError), (409, "conflict", ProviderValidationError),
])
@responses.activate
def test_status_translation(status, body, error):
    responses.get(f"{API}/things", status=status, body=body, headers={"Retry-After": "999"})
    with pytest.raises(error):
        client(attempts=1).request("GET", "/things")


@responses.activate
def test_a_malformed_base_url_is_a_configuration_error_not_transient():
    broken = ProviderHttp(provider="Example", base_url="api.example.com", auth_header="Token t")
    with pytest.raises(ProviderValidationError, match="invalid URL"):
        broken.request("GET", "/things")


@responses.activate
def test_downloads_follow_redirects_only_to_allowed_hosts():
    responses.get("https://files.example.com/a.pdf", status=302,
                  headers={"Location": "https://eu.cdn.example.com/a.pdf"})
    responses.get("https://eu.cdn.example.com/a.pdf", body=b"%PDF ok")
    assert client().download("https://files.example.com/a.pdf", allowed_hosts=FILES, max_bytes=100,
                             require_https=True) == b"%PDF ok"
    assert all("Authorization" not in c.request.headers for c in responses.calls)
    responses.get("https://files.example.com/b.pdf", status=307, headers={"Location": "http://127.0.0.1/admin"})
    with pytest.raises(ProviderValidationError, match="non-HTTPS"):
        client().download("https://files.example.com/b.pdf", allowed_hosts=FILES, max_bytes=100,
                          require_https=True)


@responses.activate
def test_download_transport_failures_are_transient():
    responses.get("https://files.example.com/a.pdf", body=requests.ReadTimeout("slow"))
    with pytest.raises(ProviderTransientError, match="ReadTimeout"):
        client().download("https://files.example.com/a.pdf", allowed_hosts=FILES, max_bytes=100,
                          require_https=True)


def test_http_downloads_are_allowed_when_https_is_not_required():
    with responses.RequestsMock() as mock:
        mock.get("http://files.example.com/a.pdf", body=b"%PDF")
        assert client().download("http://files.example.com/a.pdf", allowed_hosts=FILES, max_bytes=100,
                                 require_https=False) == b"%PDF"
