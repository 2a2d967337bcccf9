"""Getting a Salesforce session: OAuth client credentials, JWT bearer, username-password, or SOAP.

The connector does the token exchange itself (simple-salesforce fixes its login hosts to
*.salesforce.com and does not refresh a session it was handed), so the login URL is ours to set:
production, a sandbox org, a My Domain, or the sandbox simulator.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET  # noqa: S405 - parses Salesforce's own login response
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse
from xml.sax.saxutils import escape

import jwt
import requests

from connector.crm import CRMError

_PARTNER = "urn:partner.soap.sforce.com"


@dataclass(frozen=True)
class SalesforceSession:
    access_token: str
    instance_url: str

    def __repr__(self) -> str:  # the token is a secret
        return f"SalesforceSession(instance_url={self.instance_url!r})"


class SalesforceAuthError(CRMError):
    def __init__(self, message: str):
        super().__init__(message, retriable=False, code="AUTHENTICATION")


class SalesforceAuthenticator:
    def __init__(self, *, login_url: str, flow: str, client_id: str | None = None, client_secret: str | None = None,
                 username: str | None = None, password: str | None = None, security_token: str | None = None,
                 private_key_file: Path | None = None, api_version: str = "59.0",
                 session: requests.Session | None = None, timeout: float = 30.0):
        self.login_url = login_url.rstrip("/")
        self.flow = flow
        self.client_id, self._client_secret = client_id, client_secret
        self.username, self._password, self._security_token = username, password, security_token
        self.private_key_file = private_key_file
        self.api_version = api_version
        self.session = session or requests.Session()
        self.timeout = timeout

    @classmethod
    def from_settings(cls, settings, session: requests.Session | None = None) -> SalesforceAuthenticator:
        def secret(value):
            return value.get_secret_value() if value is not None else None

        return cls(login_url=settings.salesforce_login_url, flow=settings.salesforce_auth_flow,
                   client_id=settings.salesforce_client_id, client_secret=secret(settings.salesforce_client_secret),
                   username=settings.salesforce_username, password=secret(settings.salesforce_password),
                   security_token=secret(settings.salesforce_security_token),
                   private_key_file=settings.salesforce_private_key_file,
                   api_version=settings.salesforce_api_version, session=session,
                   timeout=settings.salesforce_timeout_seconds)

    def login(self) -> SalesforceSession:
        try:
            if self.flow == "soap":
                return self._soap()
            return self._oauth(self._grant())
        except requests.RequestException as exc:
            raise CRMError(f"Salesforce login ({self.flow}) at {self.login_url} failed: {type(exc).__name__}",
                           retriable=True, code="CONNECTION") from None

    def _require(self, **values) -> None:
        missing = [name for name, value in values.items() if not value]
        if missing:
            names = ", ".join(f"CONNECTOR_SALESFORCE_{m.upper()}" for m in missing)
            raise SalesforceAuthError(f"Salesforce login ({self.flow}) needs {names}")

    def _grant(self) -> tuple[dict, tuple[str, str] | None]:
        if self.flow == "client_credentials":
            self._require(client_id=self.client_id, client_secret=self._client_secret)
            return {"grant_type": "client_credentials"}, (self.client_id, self._client_secret)
        if self.flow == "password":
            self._require(client_id=self.client_id, client_secret=self._client_secret, username=self.username,
                          password=self._password)
            return {"grant_type": "password", "client_id": self.client_id, "client_secret": self._client_secret,
                    "username": self.username, "password": self._password + (self._security_token or "")}, None
        if self.flow == "jwt":
            self._require(client_id=self.client_id, username=self.username, private_key_file=self.private_key_file)
            return {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": self._assertion()}, None
        raise SalesforceAuthError(f"unknown Salesforce login flow {self.flow!r}")

    def _audience(self) -> str:
        host = urlparse(self.login_url).hostname or ""
        if host.startswith("test.") or ".sandbox.my.salesforce.com" in host:
            return "https://test.salesforce.com"
        if host.endswith("salesforce.com"):
            return "https://login.salesforce.com"
        return self.login_url  # a local simulator is its own audience

    def _assertion(self) -> str:
        try:
            key = Path(self.private_key_file).read_bytes()
        except OSError as exc:
            raise SalesforceAuthError(f"cannot read the JWT private key file: {exc.strerror}") from None
        claims = {"iss": self.client_id, "sub": self.username, "aud": self._audience(), "exp": int(time.time()) + 180}
        return jwt.encode(claims, key, algorithm="RS256")

    def _oauth(self, grant: tuple[dict, tuple[str, str] | None]) -> SalesforceSession:
        form, basic = grant
        response = self.session.post(f"{self.login_url}/services/oauth2/token", data=form, auth=basic,
                                     timeout=self.timeout)
        if response.status_code >= 500:
            raise CRMError(f"Salesforce login ({self.flow}) failed with HTTP {response.status_code}", retriable=True,
                           code="SERVER_ERROR")
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or "access_token" not in body:
            code = body.get("error", f"HTTP {response.status_code}")
            description = body.get("error_description", "no description")
            raise SalesforceAuthError(f"Salesforce login ({self.flow}) at {self.login_url} refused: {code}: "
                                      f"{description}. Check the connected app and the integration user.")
        return SalesforceSession(body["access_token"], body["instance_url"].rstrip("/"))

    def _soap(self) -> SalesforceSession:
        self._require(username=self.username, password=self._password)
        envelope = (
            '<?xml version="1.0" encoding="utf-8"?><env:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            f'xmlns:env="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="{_PARTNER}"><env:Header>'
            "<urn:CallOptions><urn:client>esign-connector</urn:client></urn:CallOptions></env:Header><env:Body>"
            f"<urn:login><urn:username>{escape(self.username)}</urn:username><urn:password>"
            f"{escape(self._password + (self._security_token or ''))}</urn:password></urn:login>"
            "</env:Body></env:Envelope>")
        response = self.session.post(
            f"{self.login_url}/services/Soap/u/{self.api_version}", data=envelope.encode(), timeout=self.timeout,
            headers={"content-type": "text/xml", "charset": "UTF-8", "SOAPAction": "login"})
        try:
            root = ET.fromstring(response.content)  # noqa: S314 - the configured login host's reply
        except ET.ParseError:
            root = None
        session_id = root.find(f".//{{{_PARTNER}}}sessionId") if root is not None else None
        server_url = root.find(f".//{{{_PARTNER}}}serverUrl") if root is not None else None
        if response.status_code != 200 or session_id is None or server_url is None:
            code = root.find(".//{urn:fault.partner.soap.sforce.com}exceptionCode") if root is not None else None
            detail = code.text if code is not None else f"HTTP {response.status_code}"
            raise SalesforceAuthError(f"Salesforce login (soap) at {self.login_url} refused: {detail}. "
                                      "Check the username, password and security token.")
        parsed = urlparse(server_url.text)
        return SalesforceSession(session_id.text, f"{parsed.scheme}://{parsed.netloc}")
