"""The Tooling API's query resource, for the one object the connector's org check reads: the outbound
messages (WorkflowOutboundMessage) an admin has set up. Two query shapes are answered, as the Tooling API
answers them: the list (Id, Name, EntityDefinitionId, optionally filtered on EntityDefinitionId) and one
record's Metadata (endpointUrl, fields, includeSessionId...), which the real API gives one record at a time."""

from __future__ import annotations

import re

from sandbox.salesforce_sim.errors import SfError, not_found
from sandbox.salesforce_sim.outbound import OutboundMessenger
from sandbox.salesforce_sim.wire import RestRequest, RestResult, method_not_allowed

_LIST = re.compile(r"SELECT\s+Id\s*,\s*Name\s*,\s*EntityDefinitionId\s+FROM\s+WorkflowOutboundMessage"
                   r"(?:\s+WHERE\s+EntityDefinitionId\s*=\s*'(?P<entity>\w+)')?", re.IGNORECASE)
_ONE = re.compile(r"SELECT\s+Id\s*,\s*Metadata\s+FROM\s+WorkflowOutboundMessage\s+WHERE\s+Id\s*=\s*'(?P<id>\w+)'",
                  re.IGNORECASE)
OBJECT = "WorkflowOutboundMessage"


class ToolingApi:
    def __init__(self, outbound: OutboundMessenger, api_version: str, integration_username: str):
        self.outbound = outbound
        self.version = api_version
        self.integration_username = integration_username

    def handle(self, parts: list[str], request: RestRequest) -> RestResult:
        if parts != ["query"]:
            raise not_found()
        if request.method != "GET":
            raise method_not_allowed(request.method, "GET,HEAD")
        soql = " ".join((request.query.get("q") or "").split())
        action = self.outbound.action
        listed, one = _LIST.fullmatch(soql), _ONE.fullmatch(soql)
        if listed:
            wanted = listed.group("entity")
            rows = [] if action is None or wanted not in (None, "Opportunity") else [
                {**self._attributes(action.action_id), "Id": action.action_id, "Name": action.name,
                 "EntityDefinitionId": "Opportunity"}]
        elif one:
            rows = [] if action is None or one.group("id")[:15] != action.action_id[:15] else [
                {**self._attributes(action.action_id), "Id": action.action_id, "Metadata": {
                    "apiVersion": float(self.version), "description": None, "endpointUrl": action.endpoint_url,
                    "fields": list(action.fields), "includeSessionId": False,
                    "integrationUser": self.integration_username, "name": action.name, "protected": False,
                    "useDeadLetterQueue": False}}]
        else:
            raise SfError(400, "MALFORMED_QUERY", "the simulator's Tooling API answers only the "
                          "WorkflowOutboundMessage queries of the connector's org check")
        return RestResult(200, {"size": len(rows), "totalSize": len(rows), "done": True, "queryLocator": None,
                                "entityTypeName": OBJECT, "records": rows})

    def _attributes(self, record_id: str) -> dict:
        return {"attributes": {"type": OBJECT,
                               "url": f"/services/data/v{self.version}/tooling/sobjects/{OBJECT}/{record_id}"}}
