"""Serving the Salesforce simulator over HTTPS for tests, and clients that trust only its CA."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from simple_salesforce import Salesforce

from connector.runtime.servers import serve_in_thread
from sandbox.salesforce_sim import SalesforceSimulator
from sandbox.tls import make_certificate

CLIENT = {"client_id": "sandbox-client-id", "client_secret": "sandbox-client-secret"}
DATETIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$"


class CaSession(requests.Session):
    """Trusts the sandbox CA even when REQUESTS_CA_BUNDLE points elsewhere (it wins over `verify` otherwise)."""

    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        settings["verify"] = self.verify
        return settings


class ToSimulator(HTTPAdapter):
    """Sends requests for https://*.salesforce.com to the simulator, so the client's own logins reach it."""

    def __init__(self, simulator_url: str):
        super().__init__()
        self.netloc = urlsplit(simulator_url).netloc

    def send(self, request, **kwargs):
        parts = urlsplit(request.url)
        if (parts.hostname or "").endswith(".salesforce.com"):
            request.url = urlunsplit(parts._replace(netloc=self.netloc))
        return super().send(request, **kwargs)


@dataclass
class RunningOrg:
    sim: SalesforceSimulator
    url: str
    ca: str

    def session(self, *, reroute_logins: bool = False) -> requests.Session:
        session = CaSession()
        session.verify = self.ca
        if reroute_logins:
            session.mount("https://", ToSimulator(self.url))
        return session

    def token(self) -> str:
        response = self.session().post(f"{self.url}/services/oauth2/token", timeout=5,
                                       data={"grant_type": "client_credentials", **CLIENT})
        response.raise_for_status()
        return response.json()["access_token"]

    def client(self) -> Salesforce:
        return Salesforce(session_id=self.token(), instance_url=self.url, session=self.session(), version="59.0")

    def rest(self, method: str, path: str, **kwargs) -> requests.Response:
        """A raw REST call with a fresh token, for what the client hides (status codes, headers)."""
        headers = {"Authorization": f"Bearer {self.token()}", **kwargs.pop("headers", {})}
        return self.session().request(method, f"{self.url}/services/data/v59.0/{path}", headers=headers,
                                      timeout=10, **kwargs)


@contextmanager
def running_org(directory: Path, **options) -> Iterator[RunningOrg]:
    cert = make_certificate(directory)
    sim = SalesforceSimulator(**options)
    server = serve_in_thread(sim.app, ssl_certfile=str(cert.cert_file), ssl_keyfile=str(cert.key_file))
    try:
        yield RunningOrg(sim, server.url, str(cert.ca_file))
    finally:
        server.stop()


def make_deal(sim: SalesforceSimulator, name: str, *, email: str | None = "ann@example.com",
              stage: str = "Proposal") -> dict:
    """An account, a contact, an opportunity with the contact as primary decision maker."""
    account = sim.create_record("Account", {"Name": f"{name} Ltd"})
    contact_fields = {"FirstName": "Ann", "LastName": "Lee", "AccountId": account, "MobilePhone": "+15550100"}
    if email:
        contact_fields["Email"] = email
    contact = sim.create_record("Contact", contact_fields)
    opportunity = sim.create_record("Opportunity", {"Name": name, "StageName": stage, "CloseDate": "2026-12-31",
                                                    "AccountId": account, "Amount": 1000})
    role = sim.create_record("OpportunityContactRole", {"OpportunityId": opportunity, "ContactId": contact,
                                                        "Role": "Decision Maker", "IsPrimary": True})
    return {"account": account, "contact": contact, "opportunity": opportunity, "role": role}
