"""A simulated Salesforce org that the real simple-salesforce client talks to over HTTPS.

Strict where the REST reference is: error arrays, status codes, field validation, limits.
"""

from __future__ import annotations

from collections import Counter

from connector.sandbox.salesforce_sim.app import ApiUsage, build_app
from connector.sandbox.salesforce_sim.auth import Credentials, Sessions
from connector.sandbox.salesforce_sim.console import console_routes
from connector.sandbox.salesforce_sim.demo import seed
from connector.sandbox.salesforce_sim.org import Org
from connector.sandbox.salesforce_sim.records import normalise_id
from connector.sandbox.salesforce_sim.rest import RestApi


class SalesforceSimulator:
    def __init__(self, consumer_key: str = "sandbox-client-id",
                 consumer_secret: str = "sandbox-client-secret",  # noqa: S107 - the sandbox's demo credential
                 username: str = "integration@sandbox.example",
                 password: str = "sandbox-password",  # noqa: S107 - the sandbox's demo credential
                 security_token: str = "sandbox-token", api_version: str = "59.0",  # noqa: S107
                 daily_api_limit: int = 15000, token_ttl_seconds: int = 7200,
                 jwt_public_key_pem: bytes | None = None):
        self.org = Org()
        self.api_version = api_version
        self.sessions = Sessions(token_ttl_seconds)
        self.usage = ApiUsage(daily_api_limit)
        self.credentials = Credentials(consumer_key, consumer_secret, username, password, security_token,
                                       jwt_public_key_pem)
        self.org.integration_user_id = self.create_record(
            "User", {"FirstName": "Integration", "LastName": "User", "Email": username, "Username": username})
        self.app = build_app(rest=RestApi(self.org, api_version), creds=self.credentials, sessions=self.sessions,
                             usage=self.usage, api_version=api_version,
                             user_id=lambda: self.org.integration_user_id, extra_routes=console_routes(self))

    # --- records, as an admin or a user in the UI would change them (no API calls counted) ---

    def create_record(self, sobject: str, fields: dict) -> str:
        return self.org.create(sobject, fields)

    def update_record(self, sobject: str, record_id: str, fields: dict) -> None:
        self.org.update(sobject, record_id, fields)

    def set_stage(self, opportunity_id: str, stage: str) -> None:
        self.org.update("Opportunity", opportunity_id, {"StageName": stage})

    def get_record(self, sobject: str, record_id: str) -> dict | None:
        with self.org.lock:
            record = self.org.get(sobject, record_id)
            return dict(record) if record else None

    def records(self, sobject: str) -> list[dict]:
        with self.org.lock:
            return [dict(r) for r in self.org.records[sobject].values()]

    def attach_file(self, record_id: str, title: str, filename: str, content: bytes) -> tuple[str, str]:
        with self.org.lock:
            version_id = self.org.create("ContentVersion", {"Title": title, "PathOnClient": filename,
                                                            "FirstPublishLocationId": record_id}, blob=content)
            return version_id, self.org.records["ContentVersion"][version_id]["ContentDocumentId"]

    def files_on(self, record_id: str) -> list[dict]:
        record_id = normalise_id(record_id) or record_id
        with self.org.lock:
            documents = [link["ContentDocumentId"] for link in self.org.records["ContentDocumentLink"].values()
                         if link["LinkedEntityId"] == record_id]
            files = []
            for document_id in documents:
                version_id = self.org.records["ContentDocument"][document_id]["LatestPublishedVersionId"]
                version = self.org.records["ContentVersion"][version_id]
                files.append({"title": version["Title"], "filename": version["PathOnClient"],
                              "content": self.org.blobs[version_id], "checksum": version["Checksum"],
                              "version_id": version_id, "document_id": document_id})
            return files

    def tasks_on(self, record_id: str) -> list[dict]:
        record_id = normalise_id(record_id) or record_id
        return sorted((t for t in self.records("Task") if t["WhatId"] == record_id), key=lambda t: t["CreatedDate"])

    # --- API accounting and sessions -----------------------------------------------------------

    @property
    def api_calls(self) -> Counter:
        return Counter(self.usage.by_route)

    @property
    def total_api_calls(self) -> int:
        return self.usage.used

    def reset_api_calls(self) -> None:
        self.usage.used = 0
        self.usage.by_route.clear()

    def expire_sessions(self) -> None:
        self.sessions.expire_all()

    def seed_demo(self) -> dict:
        return seed(self)


__all__ = ["SalesforceSimulator"]
