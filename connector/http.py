"""HTTP sessions for the daemon's outbound calls.

requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's own `verify`; when a
CA bundle is configured for the connector (the sandbox's, or a proxy's), it must win.

requests keeps 10 connections per host by default; the daemon's worker threads call the same hosts at
once, so its sessions keep one connection per worker (`pool_size`) instead of opening and dropping them.
"""

from __future__ import annotations

from pathlib import Path

import requests
from requests.adapters import HTTPAdapter


class _PinnedVerifySession(requests.Session):
    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if verify is None or verify is True:
            settings["verify"] = self.verify
        return settings


def make_session(ca_bundle: Path | str | None = None, user_agent: str = "esign-connector",
                 pool_size: int | None = None) -> requests.Session:
    session: requests.Session = _PinnedVerifySession() if ca_bundle else requests.Session()
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
