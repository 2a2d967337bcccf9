"""Login for the simulated org: OAuth token endpoint (client credentials, password, JWT bearer)
and SOAP login(), issuing opaque session ids that expire."""

from __future__ import annotations

import base64
import secrets
import time
import xml.etree.ElementTree as ET  # noqa: S405 - parses our own test client's envelopes
from dataclasses import dataclass
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

import jwt

ORG_ID = "00D5g000004ConnAAA"
PARTNER_NS = "urn:partner.soap.sforce.com"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@dataclass
class Credentials:
    consumer_key: str
    consumer_secret: str
    username: str
    password: str
    security_token: str
    jwt_public_key_pem: bytes | None = None


class OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400):
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


class Sessions:
    def __init__(self, ttl_seconds: int):
        self.ttl = ttl_seconds
        self._expiry: dict[str, float] = {}
        self.issued: list[str] = []  # every session id ever handed out, for leak tests

    def issue(self) -> str:
        token = f"{ORG_ID[:15]}!AQ{secrets.token_urlsafe(72)}"
        self._expiry[token] = time.monotonic() + self.ttl
        self.issued.append(token)
        return token

    def valid(self, token: str) -> bool:
        expiry = self._expiry.get(token)
        return expiry is not None and expiry > time.monotonic()

    def expire_all(self) -> None:
        self._expiry.clear()


def _form(body: bytes) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}


def token_grant(creds: Credentials, body: bytes, authorization: str | None, audiences: list[str]) -> None:
    """Raise OAuthError unless the token request is a valid grant for these credentials."""
    form = _form(body)
    grant = form.get("grant_type")
    client_id, client_secret = form.get("client_id"), form.get("client_secret")
    if authorization and authorization.startswith("Basic "):
        try:
            client_id, _, client_secret = base64.b64decode(authorization[6:]).decode().partition(":")
        except ValueError:
            raise OAuthError("invalid_client", "invalid client credentials") from None
    if grant == "client_credentials":
        _check_client(creds, client_id, client_secret)
    elif grant == "password":
        _check_client(creds, client_id, client_secret)
        if form.get("username") != creds.username or form.get("password") != creds.password + creds.security_token:
            raise OAuthError("invalid_grant", "authentication failure")
    elif grant == JWT_GRANT:
        _check_jwt(creds, form.get("assertion", ""), audiences)
    else:
        raise OAuthError("unsupported_grant_type", "grant type not supported")


def _check_client(creds: Credentials, client_id: str | None, client_secret: str | None) -> None:
    if client_id != creds.consumer_key:
        raise OAuthError("invalid_client_id", "client identifier invalid")
    if client_secret != creds.consumer_secret:
        raise OAuthError("invalid_client", "invalid client credentials")


def _check_jwt(creds: Credentials, assertion: str, audiences: list[str]) -> None:
    if creds.jwt_public_key_pem is None:
        raise OAuthError("invalid_grant", "user hasn't approved this consumer")
    try:
        header = jwt.get_unverified_header(assertion)
        if header.get("alg") != "RS256":
            raise OAuthError("invalid_grant", "invalid assertion: only RS256 is accepted")
        claims = jwt.decode(assertion, creds.jwt_public_key_pem, algorithms=["RS256"], audience=audiences,
                            leeway=180, options={"require": ["iss", "sub", "aud", "exp"], "verify_exp": False})
    except jwt.PyJWTError as exc:
        raise OAuthError("invalid_grant", f"invalid assertion: {type(exc).__name__}") from None
    try:
        expires = int(claims["exp"])  # simple-salesforce sends it as a string
    except (TypeError, ValueError):
        raise OAuthError("invalid_grant", "invalid assertion: exp") from None
    if expires + 180 < time.time():
        raise OAuthError("invalid_grant", "expired authorization code")
    if claims["iss"] != creds.consumer_key:
        raise OAuthError("invalid_client_id", "client identifier invalid")
    if claims["sub"] != creds.username:
        raise OAuthError("invalid_grant", "user hasn't approved this consumer")


def soap_login(creds: Credentials, body: bytes) -> bool:
    try:
        root = ET.fromstring(body)  # noqa: S314 - local simulator input
    except ET.ParseError:
        return False
    username = root.find(f".//{{{PARTNER_NS}}}username")
    password = root.find(f".//{{{PARTNER_NS}}}password")
    return (username is not None and password is not None and username.text == creds.username
            and password.text == creds.password + creds.security_token)


def soap_login_response(base_url: str, version: str, session_id: str, user_id: str, creds: Credentials) -> str:
    server = f"{base_url}/services/Soap/u/{version}/{ORG_ID[:15]}"
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="{PARTNER_NS}"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><loginResponse><result>
<metadataServerUrl>{base_url}/services/Soap/m/{version}/{ORG_ID[:15]}</metadataServerUrl>
<passwordExpired>false</passwordExpired><sandbox>true</sandbox>
<serverUrl>{server}</serverUrl><sessionId>{escape(session_id)}</sessionId><userId>{user_id}</userId>
<userInfo><organizationId>{ORG_ID}</organizationId><organizationName>Connector Sandbox</organizationName>
<sessionSecondsValid>7200</sessionSecondsValid><userEmail>{escape(creds.username)}</userEmail>
<userFullName>Integration User</userFullName><userId>{user_id}</userId><userName>{escape(creds.username)}</userName>
</userInfo></result></loginResponse></soapenv:Body></soapenv:Envelope>"""


SOAP_FAULT = """<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns:sf="urn:fault.partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<soapenv:Body><soapenv:Fault><faultcode>INVALID_LOGIN</faultcode>
<faultstring>INVALID_LOGIN: Invalid username, password, security token; or user locked out.</faultstring>
<detail><sf:LoginFault xsi:type="sf:LoginFault"><sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode>
<sf:exceptionMessage>Invalid username, password, security token; or user locked out.</sf:exceptionMessage>
</sf:LoginFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"""
