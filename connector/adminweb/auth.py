"""Who may open the admin page, and the CSRF tokens of its forms.

Credentials come from settings: a token (a bearer token, or the password of basic auth with any username)
and/or a username and password. Every comparison is constant-time; no secret is ever logged or echoed.
The page is off when none is set (`AdminAuth.from_settings` returns None).

CSRF tokens are derived from the credentials (so every replica with the same settings accepts the others'
forms), bound to the signed-in name and valid for `CSRF_TTL`."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from dataclasses import dataclass

from config.settings import Settings

CSRF_TTL = 12 * 3600  # seconds a form stays valid
_MAX_NAME = 64


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def printable_name(name: str) -> str:
    """A name fit for the log and the page: printable characters only, cut to a length."""
    return "".join(c for c in name if c.isprintable())[:_MAX_NAME] or "?"


@dataclass(frozen=True)
class AdminAuth:
    token: str | None
    username: str | None
    password: str | None

    @classmethod
    def from_settings(cls, settings: Settings) -> AdminAuth | None:
        token = settings.admin_token.get_secret_value() if settings.admin_token else None
        password = settings.admin_password.get_secret_value() if settings.admin_password else None
        if token is None and password is None:
            return None
        return cls(token=token, username=settings.admin_username, password=password)

    def who(self, authorization: str | None) -> str | None:
        """The name behind an Authorization header, or None when it does not authenticate."""
        if not authorization:
            return None
        scheme, _, value = authorization.partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer":
            return "token" if self.token is not None and _same(value, self.token) else None
        if scheme.lower() != "basic":
            return None
        try:
            user, sep, password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        if not sep:
            return None
        # Both comparisons run whatever the first answers, so timing tells nothing about which one failed.
        by_token = self.token is not None and _same(password, self.token)
        by_login = (self.username is not None and self.password is not None
                    and _same(user, self.username) & _same(password, self.password))
        if by_login:
            return printable_name(user)
        if by_token:
            return f"{printable_name(user)} (token)"
        return None

    def _key(self) -> bytes:
        material = "\0".join(v or "" for v in (self.token, self.username, self.password))
        return hashlib.sha256(b"esign-connector admin csrf\0" + material.encode()).digest()

    def csrf_token(self, who: str, now: float | None = None) -> str:
        issued = int(now if now is not None else time.time())
        mac = hmac.new(self._key(), f"{who}\0{issued}".encode(), hashlib.sha256).hexdigest()
        return f"{issued}.{mac}"

    def csrf_ok(self, who: str, token: str | None, now: float | None = None) -> bool:
        if not token or "." not in token:
            return False
        issued, _, _mac = token.partition(".")
        if not issued.isdigit():
            return False
        moment = now if now is not None else time.time()
        if not 0 <= moment - int(issued) <= CSRF_TTL:
            return False
        return _same(token, self.csrf_token(who, now=int(issued)))
