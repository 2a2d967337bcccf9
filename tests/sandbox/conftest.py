from __future__ import annotations

from dataclasses import dataclass

import pytest
import requests
from simple_salesforce import Salesforce

from adapters.transport.session import make_session
from connector.runtime.servers import serve_in_thread
from sandbox.salesforce_sim import SalesforceSimulator
from sandbox.tls import make_certificate
from tests.sandbox.salesforce_sim_support import running_org


@dataclass
class Org:
    sim: SalesforceSimulator
    url: str
    ca: str

    def token(self) -> str:
        response = requests.post(f"{self.url}/services/oauth2/token", verify=self.ca, timeout=5, data={
            "grant_type": "client_credentials", "client_id": "sandbox-client-id",
            "client_secret": "sandbox-client-secret"})
        response.raise_for_status()
        return response.json()["access_token"]

    def client(self) -> Salesforce:
        return Salesforce(session_id=self.token(), instance_url=self.url, session=make_session(self.ca),
                          version="59.0")


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    cert = make_certificate(tmp_path_factory.mktemp("tls"))
    sim = SalesforceSimulator(daily_api_limit=100_000)
    server = serve_in_thread(sim.app, ssl_certfile=str(cert.cert_file), ssl_keyfile=str(cert.key_file))
    yield Org(sim, server.url, str(cert.ca_file))
    server.stop()


@pytest.fixture(scope="module")
def sf_org(tmp_path_factory):
    """The Salesforce simulator over HTTPS, one per test module (a module may override it)."""
    with running_org(tmp_path_factory.mktemp("tls"), daily_api_limit=100_000) as running:
        yield running


@pytest.fixture(scope="module")
def sf(sf_org):
    """simple-salesforce logged in to `sf_org`."""
    return sf_org.client()
