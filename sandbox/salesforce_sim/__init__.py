"""A simulated Salesforce org that the unmodified simple-salesforce client talks to over HTTPS.

It is as strict as the REST API where the reference says the real one is: error arrays and codes,
field validation against per-object metadata, SOQL checks, query paging, Composite rules and the
daily API allocation. The helper methods act as an admin or a user in the UI and are not counted.
"""

from __future__ import annotations

import json
from collections import Counter

from sandbox.faults import FaultInjector
from sandbox.salesforce_sim.app import ApiUsage, build_app
from sandbox.salesforce_sim.auth import Credentials, Sessions
from sandbox.salesforce_sim.console import console_routes
from sandbox.salesforce_sim.demo import seed
from sandbox.salesforce_sim.errors import SfError
from sandbox.salesforce_sim.event_bus import EventBus
from sandbox.salesforce_sim.faults import SalesforceFaults
from sandbox.salesforce_sim.ids import canonical_id
from sandbox.salesforce_sim.org import Org
from sandbox.salesforce_sim.outbound import OutboundMessenger
from sandbox.salesforce_sim.pubsub_server import PubSubService
from sandbox.salesforce_sim.rest import RestApi
from sandbox.salesforce_sim.soap import LoginUser
from sandbox.salesforce_sim.tooling import ToolingApi


def _error_body(status: int) -> tuple[bytes, str]:
    """An injected 5xx or 429 in Salesforce's error-array shape."""
    code = "SERVER_UNAVAILABLE" if status >= 500 else "REQUEST_LIMIT_EXCEEDED"
    message = "Injected failure" if status >= 500 else "Too many requests (injected)"
    return json.dumps(SfError(status, code, message).body()).encode(), "application/json;charset=UTF-8"


class SalesforceSimulator:
    def __init__(self, consumer_key: str = "sandbox-client-id",
                 consumer_secret: str = "sandbox-client-secret",  # noqa: S107 - the sandbox's demo credential
                 username: str = "integration@sandbox.example",
                 password: str = "sandbox-password",  # noqa: S107 - the sandbox's demo credential
                 security_token: str = "sandbox-token",  # noqa: S107 - the sandbox's demo credential
                 api_version: str = "59.0", daily_api_limit: int = 15000, token_ttl_seconds: int = 7200,
                 jwt_public_key_pem: bytes | None = None):
        self.org = Org()
        self.api_version = api_version
        self.credentials = Credentials(consumer_key, consumer_secret, username, password, security_token,
                                       jwt_public_key_pem)
        self.sessions = Sessions(token_ttl_seconds)
        self.usage = ApiUsage(daily_api_limit)
        self.faults = SalesforceFaults()
        self.integration_user_id = self._system_user("Integration", "User", username)
        self.org.integration_user_id = self.integration_user_id
        self.admin_user_id = self._system_user("Sandbox", "Admin", "admin@sandbox.example")
        self.rest = RestApi(self.org, api_version)
        # Change Data Capture: every save of an Opportunity publishes a change event, served over the Pub/Sub
        # API by `pubsub` (sandbox.runner starts its gRPC server).
        self.bus = EventBus()
        self.org.save_listeners.append(self.bus.on_save)
        self.pubsub = PubSubService(self.bus, self.sessions)
        # A record-triggered Flow with an Outbound Message action, once `outbound.configure(...)` is called.
        self.outbound = OutboundMessenger(read_record=self._opportunity_now, faults=self.faults, ids=self.org.ids,
                                          api_version=api_version)
        self.org.save_listeners.append(self.outbound.record_saved)
        self.rest.tooling = ToolingApi(self.outbound, api_version, username)
        self.app = FaultInjector(
            build_app(rest=self.rest, creds=self.credentials, sessions=self.sessions, usage=self.usage,
                      api_version=api_version, login_user=self._login_user, faults=self.faults,
                      extra_routes=console_routes(self)),
            self.faults, _error_body)

    def _system_user(self, first: str, last: str, username: str) -> str:
        user_id = self.org.create("User", {"FirstName": first, "LastName": last, "Email": username,
                                           "Username": username}, actor=self.org.integration_user_id)
        record = self.org.records["User"][user_id]
        record["CreatedById"] = record["CreatedById"] or user_id  # the first user creates itself
        record["LastModifiedById"] = record["LastModifiedById"] or user_id
        return user_id

    def _opportunity_now(self, record_id: str) -> dict | None:
        with self.org.lock:
            record = self.org.get("Opportunity", record_id)
            return dict(record) if record else None

    def close(self) -> None:
        """Stop sending Outbound Messages."""
        self.outbound.close()

    def _login_user(self) -> LoginUser:
        user = self.org.records["User"][self.integration_user_id]
        return LoginUser(user["Id"], user["Name"], user["Email"] or "")

    def _ui_actor(self, record: dict | None) -> str:
        """Who a UI edit is made by: the record's owner, or the admin when the integration user owns it."""
        owner = (record or {}).get("OwnerId")
        if owner and owner.startswith("005") and owner != self.integration_user_id:
            return owner
        return self.admin_user_id

    # --- records, changed as an admin or a user in the UI would (no API calls counted) ---------

    def create_record(self, sobject: str, fields: dict) -> str:
        return self.org.create(sobject, fields)

    def create_record_type(self, developer_name: str, name: str, sobject: str = "Opportunity") -> str:
        """A record type, as an admin makes one in Setup (the API cannot create them)."""
        spec = self.org.spec("RecordType")
        with self.org.lock:
            return self.org.insert(spec, {"DeveloperName": developer_name, "Name": name, "SobjectType": sobject},
                                   self.integration_user_id)

    def update_record(self, sobject: str, record_id: str, fields: dict) -> None:
        with self.org.lock:
            actor = self._ui_actor(self.org.get(self.org.spec(sobject).name, record_id))
            self.org.update(sobject, record_id, fields, actor=actor)

    def set_stage(self, opportunity_id: str, stage: str) -> None:
        self.update_record("Opportunity", opportunity_id, {"StageName": stage})

    def delete_record(self, sobject: str, record_id: str) -> None:
        """Move a record (and what belongs to it) to the recycle bin; queryAll still finds it."""
        with self.org.lock:
            actor = self._ui_actor(self.org.get(self.org.spec(sobject).name, record_id))
            self.org.delete(sobject, record_id, actor=actor)

    def get_record(self, sobject: str, record_id: str) -> dict | None:
        """The stored record (Python values: datetime for date-times), deleted ones included."""
        with self.org.lock:
            record = self.org.get(self.org.spec(sobject).name, record_id)
            return dict(record) if record else None

    def records(self, sobject: str) -> list[dict]:
        with self.org.lock:
            return [dict(r) for r in self.org.live(self.org.spec(sobject).name)]

    def attach_file(self, record_id: str, title: str, filename: str, content: bytes) -> tuple[str, str]:
        """Upload a file onto a record as its owner would; returns (ContentVersion Id, ContentDocument Id)."""
        with self.org.lock:
            target = self.org.find(record_id)
            version_id = self.org.create("ContentVersion", {"Title": title, "PathOnClient": filename,
                                                            "FirstPublishLocationId": record_id},
                                         blob=content, actor=self._ui_actor(target[1] if target else None))
            return version_id, self.org.records["ContentVersion"][version_id]["ContentDocumentId"]

    def files_on(self, record_id: str) -> list[dict]:
        linked_to = canonical_id(record_id) or record_id
        with self.org.lock:
            files = []
            for link in self.org.live("ContentDocumentLink"):
                document = self.org.records["ContentDocument"][link["ContentDocumentId"]]
                if link["LinkedEntityId"] != linked_to or document["IsDeleted"]:
                    continue
                version = self.org.records["ContentVersion"][document["LatestPublishedVersionId"]]
                files.append({"title": version["Title"], "filename": version["PathOnClient"],
                              "content": self.org.blobs[version["Id"]], "checksum": version["Checksum"],
                              "version_id": version["Id"], "document_id": document["Id"]})
            return files

    def tasks_on(self, record_id: str) -> list[dict]:
        what_id = canonical_id(record_id) or record_id
        tasks = [t for t in self.records("Task") if t["WhatId"] == what_id]
        return sorted(tasks, key=lambda t: t["CreatedDate"])

    # --- API accounting and sessions -----------------------------------------------------------

    @property
    def api_calls(self) -> Counter:
        with self.usage.lock:
            return Counter(self.usage.by_route)

    @property
    def total_api_calls(self) -> int:
        return self.usage.used

    def reset_api_calls(self) -> None:
        self.usage.reset()

    def expire_sessions(self) -> None:
        self.sessions.expire_all()

    def inject_fault(self, route: str, *, status: int = 503, error_code: str | None = "SERVER_UNAVAILABLE",
                     message: str = "Injected failure", times: int = 1, delay_seconds: float = 0.0) -> None:
        """Make the next `times` calls to `route` ("PATCH /sobjects/Opportunity/{id}", or without the
        method for any) fail with `status` and `error_code`; error_code=None only delays them. The
        calls still count against the API allocation, as failed calls do."""
        error = SfError(status, error_code, message) if error_code else None
        self.faults.add(route, error, delay_seconds, times)

    def seed_demo(self) -> dict:
        return seed(self)


__all__ = ["SalesforceSimulator"]
