"""Shared values for the Salesforce wire tests: an org at acme.my.salesforce.com on API v59.0."""

from __future__ import annotations

from datetime import date

import requests
import responses

from adapters.salesforce.auth import SalesforceAuthenticator
from adapters.salesforce.client import SalesforceClient
from adapters.salesforce.crm import SalesforceCRM

LOGIN = "https://acme.my.salesforce.com"
INSTANCE = "https://acme.my.salesforce.com"
API = f"{INSTANCE}/services/data/v59.0"
TOKEN_URL = f"{LOGIN}/services/oauth2/token"
CLIENT_ID = "consumer-key"
SECRET = "client-secret-value"
PASSWORD = "hunter2-password"
SECURITY_TOKEN = "sec-token-XYZ"
TOKEN = "00Dxx0000001gPL!AQ0AQtoken"
FRESH_TOKEN = "00Dxx0000001gPL!AQ0AQfresh"
OPP = "006xx000004TmiQAAS"
VERSION = "068xx0000004CH6AAM"
TODAY = date(2026, 11, 24)


class Sleeps(list):
    """Stands in for time.sleep: records the waits instead of taking them."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def token_ok(token: str = TOKEN) -> None:
    responses.post(TOKEN_URL, json={"access_token": token, "instance_url": INSTANCE, "id": "x",
                                    "token_type": "Bearer", "scope": "api"})


def make_crm(sleeps: Sleeps | None = None, **crm_options) -> SalesforceCRM:
    auth = SalesforceAuthenticator(login_url=LOGIN, flow="client_credentials", client_id=CLIENT_ID,
                                   client_secret=SECRET)
    client = SalesforceClient(auth, session=requests.Session(), api_version="59.0", timeout=12.5,
                              sleep=sleeps if sleeps is not None else Sleeps())
    return SalesforceCRM(client, today=lambda: TODAY, **crm_options)


def bearer(token: str = TOKEN) -> dict:
    return {"Authorization": f"Bearer {token}"}


def sf_error(code: str, message: str = "refused", fields: list[str] | None = None) -> list[dict]:
    return [{"message": message, "errorCode": code, **({"fields": fields} if fields is not None else {})}]


def paths(*, of: str | None = None) -> list[str]:
    urls = [c.request.url.split("?")[0] for c in responses.calls]
    return [u for u in urls if of is None or u.endswith(of)]
