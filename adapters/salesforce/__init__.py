"""The Salesforce side of the connector: login, the REST client, and the CRM port over it."""

from __future__ import annotations

from dataclasses import replace

import requests

from adapters.salesforce.auth import SalesforceAuthenticator, SalesforceSession
from adapters.salesforce.client import SALESFORCE_CALLS, SalesforceClient
from adapters.salesforce.crm import SalesforceCRM
from adapters.transport.session import make_session
from config.settings import Settings
from connector.ports.change_feed import ChangeFeed
from connector.ports.retry import RetryPolicy


def field_settings(settings: Settings) -> dict[str, str]:
    """Opportunity field API name -> the CONNECTOR_FIELD_* setting that names it."""
    fields = settings.writeback.model_dump()
    return {value: f"CONNECTOR_FIELD_{name.upper()}"
            for name, value in fields.items() if isinstance(value, str)}


def build_crm(settings: Settings, session: requests.Session | None = None,
              retry: RetryPolicy = SALESFORCE_CALLS) -> SalesforceCRM:
    session = session or make_session(settings.salesforce_ca_bundle)
    authenticator = SalesforceAuthenticator.from_settings(settings, session)
    client = SalesforceClient(authenticator, session=session, api_version=settings.salesforce_api_version,
                              timeout=settings.salesforce_timeout_seconds, retry=retry)
    return SalesforceCRM(client, field_settings=field_settings(settings),
                         multipart_threshold=settings.salesforce_inline_file_bytes,
                         spool_bytes=settings.document_spool_bytes)


def build_change_feed(settings: Settings, session: requests.Session | None = None) -> ChangeFeed:
    """The Change Data Capture feed over the Pub/Sub API, logging in as the CRM does (a session of its own)."""
    import grpc

    from adapters.salesforce.pubsub.subscriber import PubSubChangeFeed

    session = session or make_session(settings.salesforce_ca_bundle)
    authenticator = SalesforceAuthenticator.from_settings(settings, session)
    roots = settings.salesforce_ca_bundle.read_bytes() if settings.salesforce_ca_bundle else None
    def login() -> SalesforceSession:
        session = authenticator.login()
        return session if session.org_id else replace(session, org_id=settings.salesforce_org_id)

    return PubSubChangeFeed(target=settings.salesforce_pubsub_endpoint, login=login,
                            topic=settings.salesforce_cdc_topic, batch_size=settings.salesforce_cdc_batch_size,
                            credentials=grpc.ssl_channel_credentials(root_certificates=roots),
                            timeout=settings.salesforce_timeout_seconds)


__all__ = ["SalesforceCRM", "build_change_feed", "build_crm", "field_settings"]
