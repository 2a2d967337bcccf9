"""HTTP sessions for the daemon's outbound calls.

requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's own `verify`; when a
CA bundle is configured for the connector (the sandbox's, or a proxy's), it must win.
"""

from __future__ import annotations

from pathlib import Path

import requests


class _PinnedVerifySession(requests.Session):
    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if verify is None or verify is True:
            settings["verify"] = self.verify
        return settings


def make_session(ca_bundle: Path | str | None = None, user_agent: str = "esign-connector") -> requests.Session:
    session: requests.Session = _PinnedVerifySession() if ca_bundle else requests.Session()
    if ca_bundle:
        session.verify = str(ca_bundle)
    session.headers["User-Agent"] = user_agent
    return session
