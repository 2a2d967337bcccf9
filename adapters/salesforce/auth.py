"""Getting a Salesforce session: OAuth client credentials, JWT bearer, username-password, or SOAP login().

The connector does the token exchange itself: simple-salesforce builds its login URLs on
*.salesforce.com only, so a sandbox org, a My Domain or the local simulator could not be reached
otherwise. The price is that simple-salesforce cannot refresh a session it was handed;
`SalesforceClient` logs in again through this class when the session expires.

No error raised here contains a password, security token, client secret, assertion or access token.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET  # noqa: S405 - parses the configured login host's reply only
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlparse
from xml.sax.saxutils import escape

import jwt
import requests

from connector.ports.crm import CRMError
from connector.ports.errors import ErrorKind

if TYPE_CHECKING:
    from config.settings import Settings

Flow = Literal["client_credentials", "jwt", "password", "soap"]
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_LIFETIME_SECONDS = 180  # Salesforce refuses assertions that expire more than ~3 minutes out
PARTNER_NAMESPACE = "urn:partner.soap.sforce.com"

_FIX = {
    "client_credentials": "check CONNECTOR_SALESFORCE_CLIENT_ID and _CLIENT_SECRET, that the connected app "
                          "enables the client credentials flow with a Run As user, and that the login URL "
                          "is the org's My Domain",
    "jwt": "check CONNECTOR_SALESFORCE_CLIENT_ID and _USERNAME, that the connected app's certificate matches "
           "the private key, and that the user is pre-authorised (profile or permission set)",
    "password": "check the consumer key and secret, the username, password and security token, and that "
                "the org allows the OAuth username-password flow",
    "soap": "check CONNECTOR_SALESFORCE_USERNAME, _PASSWORD and _SECURITY_TOKEN",
}


@dataclass(frozen=True)
class SalesforceSession:
    access_token: str = field(repr=False)
    instance_url: str
    org_id: str | None = None  # the Pub/Sub API wants it (tenantid); logins say it, tests' fakes may not


class SalesforceAuthError(CRMError):
    """Login refused or impossible as configured; repeating it will not help."""

    def __init__(self, message: str, code: str = "AUTHENTICATION"):
        super().__init__(message, code=code)


def jwt_audience(login_url: str) -> str:
    host = (urlparse(login_url).hostname or "").lower()
    if host.startswith("test.") or host.endswith(".sandbox.my.salesforce.com"):
        return "https://test.salesforce.com"
    if host == "salesforce.com" or host.endswith(".salesforce.com"):
        return "https://login.salesforce.com"
    return login_url  # an Experience Cloud site, or the simulator, is its own audience


class SalesforceAuthenticator:
    def __init__(self, *, login_url: str, flow: str, client_id: str | None = None,
                 client_secret: str | None = None, username: str | None = None, password: str | None = None,
                 security_token: str | None = None, private_key_file: Path | str | None = None,
                 api_version: str = "59.0", session: requests.Session | None = None, timeout: float = 30.0):
        self.login_url = login_url.rstrip("/")
        self.flow = flow
        self.client_id = client_id
        self.username = username
        self.private_key_file = Path(private_key_file) if private_key_file else None
        self.api_version = api_version
        self.session = session or requests.Session()
        self.timeout = timeout
        self._client_secret = client_secret
        self._password = password
        self._security_token = security_token
        self._last_assertion: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings,
                      session: requests.Session | None = None) -> SalesforceAuthenticator:
        def reveal(secret) -> str | None:
            return secret.get_secret_value() if secret is not None else None

        return cls(
            login_url=settings.salesforce_login_url, flow=settings.salesforce_auth_flow,
            client_id=settings.salesforce_client_id, client_secret=reveal(settings.salesforce_client_secret),
            username=settings.salesforce_username, password=reveal(settings.salesforce_password),
            security_token=reveal(settings.salesforce_security_token),
            private_key_file=settings.salesforce_private_key_file,
            api_version=settings.salesforce_api_version, session=session,
            timeout=settings.salesforce_timeout_seconds,
        )

    def __repr__(self) -> str:
        return f"SalesforceAuthenticator(flow={self.flow!r}, login_url={self.login_url!r})"

    def login(self) -> SalesforceSession:
        try:
            if self.flow == "soap":
                return self._soap_login()
            return self._token_login()
        except requests.RequestException as exc:
            raise CRMError(f"Salesforce login ({self.flow}) at {self.login_url} failed: {type(exc).__name__}",
                           kind=ErrorKind.TRANSIENT, code="CONNECTION") from None

    # --- OAuth token endpoint ------------------------------------------------------------------

    def _token_login(self) -> SalesforceSession:
        form, basic_auth = self._grant()
        response = self.session.post(f"{self.login_url}/services/oauth2/token", data=form, auth=basic_auth,
                                     headers={"Accept": "application/json"}, timeout=self.timeout)
        try:
            body = response.json()
        except ValueError:
            body = None
        body = body if isinstance(body, dict) else {}
        if response.status_code == 200 and body.get("access_token") and body.get("instance_url"):
            return SalesforceSession(str(body["access_token"]), str(body["instance_url"]).rstrip("/"),
                                     _org_from_identity(body.get("id")))
        if response.status_code >= 500:
            raise self._unavailable(response.status_code)
        raise self._refused(str(body.get("error") or f"HTTP_{response.status_code}"),
                            str(body.get("error_description") or "no description given"))

    def _grant(self) -> tuple[dict[str, str], tuple[str, str] | None]:
        if self.flow == "client_credentials":
            client_id, secret = self._require(client_id=self.client_id, client_secret=self._client_secret)
            return {"grant_type": "client_credentials"}, (client_id, secret)
        if self.flow == "password":
            client_id, secret, username, password = self._require(
                client_id=self.client_id, client_secret=self._client_secret, username=self.username,
                password=self._password)
            return {"grant_type": "password", "client_id": client_id, "client_secret": secret,
                    "username": username, "password": password + (self._security_token or "")}, None
        if self.flow == "jwt":
            self._require(client_id=self.client_id, username=self.username,
                          private_key_file=self.private_key_file)
            return {"grant_type": JWT_GRANT, "assertion": self._assertion()}, None
        raise SalesforceAuthError(
            f"unknown Salesforce login flow {self.flow!r}: set CONNECTOR_SALESFORCE_AUTH_FLOW to "
            "client_credentials, jwt, password or soap", code="CONFIGURATION")

    def _assertion(self) -> str:
        assert self.private_key_file is not None
        try:
            key = self.private_key_file.read_bytes()
        except OSError as exc:
            raise SalesforceAuthError(f"Salesforce login (jwt): cannot read the private key file "
                                      f"{self.private_key_file}: {exc.strerror}",
                                      code="CONFIGURATION") from None
        claims = {"iss": self.client_id, "sub": self.username, "aud": jwt_audience(self.login_url),
                  "exp": int(time.time()) + ASSERTION_LIFETIME_SECONDS}
        try:
            assertion = jwt.encode(claims, key, algorithm="RS256")
        except (ValueError, TypeError, jwt.PyJWTError):
            raise SalesforceAuthError(f"Salesforce login (jwt): {self.private_key_file} is not a PEM RSA "
                                      "private key", code="CONFIGURATION") from None
        self._last_assertion = assertion
        return assertion

    # --- SOAP login() --------------------------------------------------------------------------

    def _soap_login(self) -> SalesforceSession:
        username, password = self._require(username=self.username, password=self._password)
        envelope = (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<env:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            f'xmlns:env="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="{PARTNER_NAMESPACE}">'
            "<env:Header><urn:CallOptions><urn:client>esign-connector</urn:client></urn:CallOptions>"
            "</env:Header><env:Body><urn:login>"
            f"<urn:username>{escape(username)}</urn:username>"
            f"<urn:password>{escape(password + (self._security_token or ''))}</urn:password>"
            "</urn:login></env:Body></env:Envelope>"
        )
        response = self.session.post(
            f"{self.login_url}/services/Soap/u/{self.api_version}", data=envelope.encode("utf-8"),
            headers={"content-type": "text/xml", "charset": "UTF-8", "SOAPAction": "login"},
            timeout=self.timeout)
        try:
            root = ET.fromstring(response.content)  # noqa: S314 - the configured login host's reply
        except ET.ParseError:
            root = None
        session_id, server_url = _text(root, "sessionId"), _text(root, "serverUrl")
        if response.status_code == 200 and session_id and server_url:
            return SalesforceSession(session_id, _instance_url(server_url), _text(root, "organizationId"))
        code = _text(root, "exceptionCode") or _text(root, "faultcode")
        if code is None and response.status_code >= 500:
            raise self._unavailable(response.status_code)
        message = _text(root, "exceptionMessage") or _text(root, "faultstring") or "no description given"
        raise self._refused((code or f"HTTP_{response.status_code}").removeprefix("sf:"), message)

    # --- helpers -------------------------------------------------------------------------------

    def _require(self, **values: object) -> list:
        missing = [name for name, value in values.items() if not value]
        if missing:
            names = ", ".join(f"CONNECTOR_SALESFORCE_{name.upper()}" for name in missing)
            raise SalesforceAuthError(f"Salesforce login ({self.flow}) needs {names}", code="CONFIGURATION")
        return list(values.values())

    def _refused(self, code: str, description: str) -> SalesforceAuthError:
        text = (f"Salesforce login ({self.flow}) at {self.login_url} refused: {code}: {description}"
                f" — {_FIX[self.flow]}")
        return SalesforceAuthError(self._redact(text), code=self._redact(code))

    def _unavailable(self, status: int) -> CRMError:
        return CRMError(f"Salesforce login ({self.flow}) at {self.login_url} failed with HTTP {status}",
                        kind=ErrorKind.TRANSIENT, code="SERVER_ERROR")

    def _redact(self, text: str) -> str:
        """Belt and braces: a login host that echoes what it was sent must not leak it into logs."""
        token = self._security_token or ""
        secrets = [self._client_secret, self._password, (self._password or "") + token, token,
                   self._last_assertion]
        for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
            text = text.replace(secret, "[redacted]")
        return text


def _text(root: ET.Element | None, local_name: str) -> str | None:
    """The first element named `local_name`, in whatever namespace (Salesforce leaves some unprefixed)."""
    if root is None:
        return None
    for element in root.iter():
        if element.tag.rsplit("}", 1)[-1] == local_name and element.text:
            return element.text.strip()
    return None


def _org_from_identity(identity: object) -> str | None:
    """The org id in the identity URL a token reply carries: https://login.salesforce.com/id/<org>/<user>."""
    parts = urlparse(identity).path.split("/") if isinstance(identity, str) else []
    return parts[-2] if len(parts) >= 3 and parts[-3] == "id" and parts[-2] else None


def _instance_url(server_url: str) -> str:
    parsed = urlparse(server_url)
    host, _, port = parsed.netloc.partition(":")
    first, dot, rest = host.partition(".")
    host = first.removesuffix("-api") + dot + rest  # old SOAP server URLs name an "-api" host
    return f"{parsed.scheme}://{host}" + (f":{port}" if port else "")
