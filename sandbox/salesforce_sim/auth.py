"""Login for the simulated org: the OAuth token endpoint (client credentials, username-password,
JWT bearer) and SOAP login(), both issuing opaque session ids that expire."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from sandbox.salesforce_sim.ids import ORG_ID

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JWT_SKEW_SECONDS = 180
LOGIN_AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")


@dataclass(frozen=True)
class Credentials:
    consumer_key: str
    consumer_secret: str
    username: str
    password: str
    security_token: str
    jwt_public_key_pem: bytes | None = None


class OAuthError(Exception):
    def __init__(self, error: str, description: str):
        super().__init__(description)
        self.error = error
        self.description = description


class Sessions:
    """Opaque `00D…!…` session ids with an expiry; any id issued and not yet expired is accepted."""

    def __init__(self, ttl_seconds: int):
        self.ttl = ttl_seconds
        self._lock = threading.Lock()
        self._expiry: dict[str, float] = {}
        self.issued: list[str] = []  # every id ever handed out, so tests can check none leaks into logs

    def issue(self) -> str:
        token = f"{ORG_ID[:15]}!AQ{secrets.token_urlsafe(72)}"
        with self._lock:
            now = time.monotonic()
            self._expiry = {t: e for t, e in self._expiry.items() if e > now}
            self._expiry[token] = now + self.ttl
            self.issued.append(token)
        return token

    def valid(self, token: str) -> bool:
        with self._lock:
            expiry = self._expiry.get(token)
        return expiry is not None and expiry > time.monotonic()

    def expire_all(self) -> None:
        with self._lock:
            self._expiry.clear()


def token_response(creds: Credentials, base_url: str, user_id: str, access_token: str) -> dict:
    identity = f"{base_url}/id/{ORG_ID}/{user_id}"
    issued_at = str(int(time.time() * 1000))
    # Salesforce signs id + issued_at with the consumer secret so the client can check the pair.
    signed = (identity + issued_at).encode()
    digest = hmac.new(creds.consumer_secret.encode(), signed, hashlib.sha256).digest()
    return {"access_token": access_token, "instance_url": base_url, "id": identity, "token_type": "Bearer",
            "issued_at": issued_at, "signature": base64.b64encode(digest).decode(), "scope": "api"}


def check_token_request(creds: Credentials, body: bytes, authorization: str | None, base_url: str) -> None:
    """Raise OAuthError unless the form-encoded token request is a valid grant for these credentials."""
    try:
        form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body)))
    except (UnicodeDecodeError, ValueError):
        raise OAuthError("invalid_request", "the body must be application/x-www-form-urlencoded") from None
    client_id, client_secret = form.get("client_id"), form.get("client_secret")
    if authorization and authorization.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(authorization[6:], validate=True).decode()
            client_id, _, client_secret = decoded.partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise OAuthError("invalid_client", "invalid client credentials") from None
    grant = form.get("grant_type")
    if grant == "client_credentials":
        _check_client(creds, client_id, client_secret)
    elif grant == "password":
        _check_client(creds, client_id, client_secret)
        password = creds.password + creds.security_token
        if form.get("username") != creds.username or form.get("password") != password:
            raise OAuthError("invalid_grant", "authentication failure")
    elif grant == JWT_GRANT:
        _check_assertion(creds, form.get("assertion", ""), (*LOGIN_AUDIENCES, base_url))
    else:
        raise OAuthError("unsupported_grant_type", "grant type not supported")


def _check_client(creds: Credentials, client_id: str | None, client_secret: str | None) -> None:
    if client_id != creds.consumer_key:
        raise OAuthError("invalid_client_id", "client identifier invalid")
    if not hmac.compare_digest((client_secret or "").encode(), creds.consumer_secret.encode()):
        raise OAuthError("invalid_client", "invalid client credentials")


def _verification_key(pem: bytes):
    """The connected app holds a certificate; a bare public key is accepted too."""
    if b"BEGIN CERTIFICATE" in pem:
        return x509.load_pem_x509_certificate(pem).public_key()
    return serialization.load_pem_public_key(pem)


def _check_assertion(creds: Credentials, assertion: str, audiences: tuple[str, ...]) -> None:
    if creds.jwt_public_key_pem is None:
        raise OAuthError("invalid_grant", "user hasn't approved this consumer")
    try:
        if jwt.get_unverified_header(assertion).get("alg") != "RS256":
            raise OAuthError("invalid_grant", "invalid assertion: only RS256 is accepted")
        claims = jwt.decode(assertion, _verification_key(creds.jwt_public_key_pem), algorithms=["RS256"],
                            audience=list(audiences), options={"require": ["iss", "sub", "aud", "exp"],
                                                               "verify_exp": False})
    except jwt.PyJWTError as exc:
        raise OAuthError("invalid_grant", f"invalid assertion: {exc}") from None
    try:
        expires = int(claims["exp"])  # simple-salesforce sends a string, Salesforce's own example too
    except (TypeError, ValueError):
        raise OAuthError("invalid_grant", "invalid assertion: exp is not a number") from None
    if expires + JWT_SKEW_SECONDS < time.time():
        raise OAuthError("invalid_grant", "expired authorization code")
    if claims["iss"] != creds.consumer_key:
        raise OAuthError("invalid_client_id", "client identifier invalid")
    if claims["sub"] != creds.username:
        raise OAuthError("invalid_grant", "user hasn't approved this consumer")
