"""The REST resources under /services/data/vXX.X/, as plain functions from a request to a result.

Composite resources live in composite.py and call back into `RestApi.handle` for each subrequest.
"""

from __future__ import annotations

from sandbox.salesforce_sim import describe, feeds
from sandbox.salesforce_sim.composite import Composite
from sandbox.salesforce_sim.cursors import Cursors, batch_size
from sandbox.salesforce_sim.errors import CUSTOM_FIELD_HINT, SfError, invalid_field, not_found
from sandbox.salesforce_sim.multipart import parse_upload
from sandbox.salesforce_sim.org import Org
from sandbox.salesforce_sim.query import QueryRun
from sandbox.salesforce_sim.rest_paths import record_url
from sandbox.salesforce_sim.schema import ObjectSpec
from sandbox.salesforce_sim.tooling import ToolingApi
from sandbox.salesforce_sim.values import public_value
from sandbox.salesforce_sim.wire import RestRequest, RestResult, json_body, method_not_allowed


class RestApi:
    def __init__(self, org: Org, api_version: str):
        self.org = org
        self.version = api_version
        self.cursors = Cursors(api_version, org.ids)
        self.composite = Composite(org, api_version, self.handle)
        self.tooling: ToolingApi | None = None  # set by the simulator, which owns the outbound messages

    def handle(self, request: RestRequest) -> RestResult:
        parts = [p for p in request.path.split("/") if p]
        head, rest = (parts[0], parts[1:]) if parts else ("", [])
        if head in ("query", "queryAll"):
            if request.method != "GET":
                raise method_not_allowed(request.method, "GET,HEAD")
            return self._query(rest, request, include_deleted=head == "queryAll")
        if head == "sobjects":
            return self._sobjects(rest, request)
        if head == "tooling" and self.tooling is not None:
            return self.tooling.handle(rest, request)
        if head == "composite" and not request.inside_composite:
            return self.composite.handle(rest, request)
        if head == "composite" and rest[:1] == ["sobjects"]:  # the one composite resource allowed inside one
            return self.composite.collections(request, rest[1:])
        raise not_found()

    # --- query -------------------------------------------------------------------------------

    def _query(self, rest: list[str], request: RestRequest, *, include_deleted: bool) -> RestResult:
        if len(rest) == 1:
            return RestResult(200, self.cursors.next_page(rest[0]))
        if rest:
            raise not_found()
        soql = request.query.get("q")
        if not soql:
            raise SfError(400, "MALFORMED_QUERY", "A query string has to be specified")
        rows = QueryRun(self.org, self.version, include_deleted, self.cursors.child_result).run(soql)
        size = batch_size(request.headers.get("sforce-query-options"))
        return RestResult(200, self.cursors.first_page(rows, size))

    # --- sObjects ----------------------------------------------------------------------------

    def _sobjects(self, parts: list[str], request: RestRequest) -> RestResult:
        method = request.method
        if not parts:
            if method != "GET":
                raise method_not_allowed(method, "GET,HEAD")
            return RestResult(200, describe.describe_global(self.version))
        spec = self.org.spec(parts[0])
        if len(parts) == 1:
            if method == "POST":
                return self._create(spec, request)
            if method == "GET":
                return RestResult(200, describe.object_info(spec, self.version))
            raise method_not_allowed(method, "GET,POST,HEAD")
        if len(parts) == 2 and parts[1] in ("describe", "updated", "deleted"):
            if method != "GET":
                raise method_not_allowed(method, "GET,HEAD")
            if parts[1] == "describe":
                return RestResult(200, describe.describe_object(spec, self.version))
            feed = feeds.updated if parts[1] == "updated" else feeds.deleted
            return RestResult(200, feed(self.org, spec, request.query))
        if len(parts) == 2:
            return self._row(spec, parts[1], request)
        if len(parts) == 3 and method == "GET" and (blob := spec.field(parts[2])) and blob.type == "base64":
            if request.inside_composite:
                raise SfError(400, "INVALID_API_INPUT", "Blob data cannot be read inside a composite request")
            with self.org.lock:
                record = self.org.require(spec.name, parts[1])
                content = self.org.blobs[record["Id"]]
            return RestResult(200, raw=content, headers={"Content-Type": "application/octetstream"})
        raise SfError(404, "NOT_FOUND", "Provided external ID field does not exist or is not accessible: "
                      + parts[1])

    def _row(self, spec: ObjectSpec, record_id: str, request: RestRequest) -> RestResult:
        if request.method == "GET":
            return RestResult(200, self._read(spec, record_id, request.query.get("fields")))
        if request.method == "PATCH":
            self.org.update(spec.name, record_id, json_body(request))
            return RestResult(204)
        if request.method == "DELETE":
            self.org.delete(spec.name, record_id)
            return RestResult(204)
        raise method_not_allowed(request.method, "GET,PATCH,DELETE,HEAD")

    def _create(self, spec: ObjectSpec, request: RestRequest) -> RestResult:
        content_type = request.headers.get("content-type", "")
        if content_type.lower().startswith("multipart/form-data"):
            if spec.name != "ContentVersion":
                raise SfError(415, "UNSUPPORTED_MEDIA_TYPE", "multipart/form-data is accepted for blob "
                              f"objects only, not for {spec.name}")
            fields, blob = parse_upload(content_type, request.body)
            record_id = self.org.create(spec.name, fields, blob=blob)
        else:
            record_id = self.org.create(spec.name, json_body(request))
        return RestResult(201, {"id": record_id, "success": True, "errors": []},
                          headers={"Location": record_url(self.version, spec.name, record_id)})

    def _read(self, spec: ObjectSpec, record_id: str, fields: str | None) -> dict:
        names = [f.strip() for f in fields.split(",")] if fields is not None else list(spec.fields)
        chosen = []
        for name in names:
            field_spec = spec.field(name)
            if field_spec is None:
                raise invalid_field(f"No such column '{name}' on entity '{spec.name}'. {CUSTOM_FIELD_HINT}")
            chosen.append(field_spec)
        with self.org.lock:
            record = dict(self.org.require(spec.name, record_id))
        url = record_url(self.version, spec.name, record["Id"])
        out: dict = {"attributes": {"type": spec.name, "url": url}}
        for field_spec in chosen:
            if field_spec.type == "base64":
                out[field_spec.name] = f"{url}/{field_spec.name}"
            else:
                out[field_spec.name] = public_value(record.get(field_spec.name))
        return out
