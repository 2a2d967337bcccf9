"""HTTP sessions for the daemon's outbound calls.

requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's own `verify`; when a
CA bundle is configured for the connector (the sandbox's, or a proxy's), it must win.

requests keeps 10 connections per host by default; the daemon's worker threads call the same hosts at
once, so its sessions keep one connection per worker (`pool_size`) instead of opening and dropping them.

requests also reads the proxy and CA variables of the environment on every request (walking all of
os.environ: a tenth of the daemon's CPU in a bulk load). The environment does not change while the
daemon runs, so what it says is looked up once per host and kept.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter


class ConnectorSession(requests.Session):
    """A Session that reads the environment's proxy and CA settings once per host; with `pin_verify`,
    its own `verify` (a configured CA bundle) wins over REQUESTS_CA_BUNDLE."""

    def __init__(self, *, pin_verify: bool = False):
        super().__init__()
        self.pin_verify = pin_verify
        self._environment: dict[tuple, Any] = {}
        self._environment_lock = threading.Lock()

    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        settings: Any
        if proxies:  # given per call: nothing to keep
            settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        else:
            parts = urlsplit(url)
            key = (parts.scheme, parts.netloc, stream, verify, cert)
            cached = self._environment.get(key)
            if cached is None:
                cached = super().merge_environment_settings(url, proxies, stream, verify, cert)
                with self._environment_lock:
                    if len(self._environment) > 256:  # hosts come from settings and providers' links: few
                        self._environment.clear()
                    self._environment[key] = cached
            settings = {**cached, "proxies": dict(cached["proxies"])}
        if self.pin_verify and (verify is None or verify is True):
            settings["verify"] = self.verify
        return settings


def make_session(ca_bundle: Path | str | None = None, user_agent: str = "esign-connector",
                 pool_size: int | None = None) -> requests.Session:
    session = ConnectorSession(pin_verify=bool(ca_bundle))
    if ca_bundle:
        session.verify = str(ca_bundle)
    session.headers["User-Agent"] = user_agent
    if pool_size:
        size_pools(session, pool_size)
    return session


def size_pools(session: requests.Session, pool_size: int) -> None:
    """Keep up to `pool_size` connections per host on `session`'s plain adapters."""
    for prefix in ("https://", "http://"):
        session.mount(prefix, HTTPAdapter(pool_connections=10, pool_maxsize=pool_size))
