"""The Salesforce side of the connector: login, the REST client, and the CRM port over it."""

from __future__ import annotations

import requests

from config.settings import Settings
from connector.http import make_session
from connector.salesforce.auth import SalesforceAuthenticator
from connector.salesforce.client import SalesforceClient
from connector.salesforce.crm import SalesforceCRM


def build_crm(settings: Settings, session: requests.Session | None = None) -> SalesforceCRM:
    session = session or make_session(settings.salesforce_ca_bundle)
    authenticator = SalesforceAuthenticator.from_settings(settings, session)
    client = SalesforceClient(authenticator, session=session, api_version=settings.salesforce_api_version)
    return SalesforceCRM(client)


__all__ = ["SalesforceCRM", "build_crm"]
