"""The REST resources of the simulated org, as plain functions from a request to (status, body)."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field

from connector.sandbox.salesforce_sim.multipart import parse_upload
from connector.sandbox.salesforce_sim.org import Org
from connector.sandbox.salesforce_sim.query import Executor
from connector.sandbox.salesforce_sim.records import SfError, public_value
from connector.sandbox.salesforce_sim.schema import SCHEMA

BATCH_DEFAULT, BATCH_MIN, BATCH_MAX = 2000, 200, 2000
REFERENCE = re.compile(r"@\{([A-Za-z0-9][A-Za-z0-9_]*)\.([^}]+)\}")
REFERENCE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]*$")


@dataclass
class RestRequest:
    method: str
    path: str  # after /services/data/vNN.N/
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class RestResult:
    status: int
    body: object = None
    raw: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


class RestApi:
    def __init__(self, org: Org, api_version: str):
        self.org = org
        self.version = api_version
        self.executor = Executor(org, api_version)
        self._cursors: dict[str, list[dict]] = {}

    def handle(self, request: RestRequest) -> RestResult:
        parts = [p for p in request.path.split("/") if p]
        method = request.method
        if not parts:
            raise SfError(404, "NOT_FOUND", "The requested resource does not exist")
        head = parts[0]
        if head in ("query", "queryAll") and method == "GET":
            return self._query(parts, request)
        if head == "sobjects":
            return self._sobjects(parts[1:], request)
        if head == "composite" and len(parts) == 1 and method == "POST":
            return self._composite(request)
        if head == "composite" and parts[1:2] == ["sobjects"]:
            return self._collections(request)
        raise SfError(404, "NOT_FOUND", "The requested resource does not exist")

    # --- query -----------------------------------------------------------------------------

    def _query(self, parts: list[str], request: RestRequest) -> RestResult:
        if len(parts) == 2:
            locator, _, offset = parts[1].rpartition("-")
            rows = self._cursors.get(locator)
            if rows is None or not offset.isdigit():
                raise SfError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
            return RestResult(200, self._page(locator, rows, int(offset), request))
        soql = request.query.get("q")
        if not soql:
            raise SfError(400, "MALFORMED_QUERY", "A query string has to be specified")
        rows = self.executor.run(soql)
        locator = "01g" + uuid.uuid4().hex[:15]
        self._cursors[locator] = rows
        return RestResult(200, self._page(locator, rows, 0, request))

    def _page(self, locator: str, rows: list[dict], offset: int, request: RestRequest) -> dict:
        size = BATCH_DEFAULT
        option = re.search(r"batchSize=(\d+)", request.headers.get("sforce-query-options", ""))
        if option:
            size = min(max(int(option.group(1)), BATCH_MIN), BATCH_MAX)
        page = rows[offset:offset + size]
        result = {"totalSize": len(rows), "done": offset + size >= len(rows), "records": page}
        if not result["done"]:
            result["nextRecordsUrl"] = f"/services/data/v{self.version}/query/{locator}-{offset + size}"
        else:
            self._cursors.pop(locator, None)
        return result

    # --- sObjects --------------------------------------------------------------------------

    def _sobjects(self, parts: list[str], request: RestRequest) -> RestResult:
        method = request.method
        if not parts:
            return RestResult(200, {"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": [
                {"name": n, "keyPrefix": s.prefix, "createable": s.createable} for n, s in SCHEMA.items()]})
        spec = self.org.spec(parts[0])
        if len(parts) == 1 and method == "POST":
            return self._create(spec.name, request)
        if len(parts) == 1 and method == "GET":
            return RestResult(200, {"objectDescribe": {"name": spec.name, "keyPrefix": spec.prefix}, "recentItems": []})
        if len(parts) == 2 and parts[1] == "describe" and method == "GET":
            return RestResult(200, describe(spec))
        if len(parts) == 3 and parts[2] == "VersionData" and spec.name == "ContentVersion" and method == "GET":
            record = self.org.require(spec.name, parts[1])
            return RestResult(200, raw=self.org.blobs[record["Id"]],
                              headers={"Content-Type": "application/octetstream"})
        if len(parts) == 2:
            if method == "GET":
                return RestResult(200, self._read(spec.name, parts[1], request.query.get("fields")))
            if method == "PATCH":
                self.org.update(spec.name, parts[1], _json(request.body))
                return RestResult(204)
            if method == "DELETE":
                self.org.delete(spec.name, parts[1])
                return RestResult(204)
        raise SfError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed. Allowed are GET,PATCH,DELETE")

    def _create(self, name: str, request: RestRequest) -> RestResult:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("multipart/form-data"):
            if name != "ContentVersion":
                raise SfError(415, "UNSUPPORTED_MEDIA_TYPE", "multipart is for blob objects only")
            fields, blob, _filename = parse_upload(content_type, request.body)
            record_id = self.org.create(name, fields, blob=blob)
        else:
            record_id = self.org.create(name, _json(request.body))
        return RestResult(201, {"id": record_id, "success": True, "errors": []},
                          headers={"Location": f"/services/data/v{self.version}/sobjects/{name}/{record_id}"})

    def _read(self, name: str, record_id: str, fields: str | None) -> dict:
        spec = self.org.spec(name)
        record = self.org.require(spec.name, record_id)
        names = [f.strip() for f in fields.split(",")] if fields else list(spec.fields)
        out: dict = {"attributes": {"type": spec.name,
                                    "url": f"/services/data/v{self.version}/sobjects/{spec.name}/{record['Id']}"}}
        for requested in names:
            field_spec = spec.field(requested)
            if field_spec is None:
                raise SfError(400, "INVALID_FIELD", f"No such column '{requested}' on entity '{spec.name}'")
            value = record.get(field_spec.name)
            if field_spec.type == "base64":
                value = f"/services/data/v{self.version}/sobjects/{spec.name}/{record['Id']}/{field_spec.name}"
            out[field_spec.name] = public_value(field_spec, value)
        return out

    # --- composite -------------------------------------------------------------------------

    def _composite(self, request: RestRequest) -> RestResult:
        payload = _json(request.body)
        subrequests = payload.get("compositeRequest")
        if not isinstance(subrequests, list) or not subrequests:
            raise SfError(400, "INVALID_INPUT", "compositeRequest is required")
        if len(subrequests) > 25:
            raise SfError(400, "LIMIT_EXCEEDED", "Composite requests can contain at most 25 subrequests")
        for sub in subrequests:
            if not REFERENCE_ID.match(str(sub.get("referenceId", ""))):
                raise SfError(400, "INVALID_INPUT", f"Invalid reference id: {sub.get('referenceId')}")
            if sub.get("method") not in ("GET", "POST", "PUT", "PATCH", "DELETE"):
                raise SfError(400, "INVALID_INPUT", f"Invalid method: {sub.get('method')}")
            if not re.match(r"^/services/data/v\d+\.\d/", str(sub.get("url", ""))):
                raise SfError(400, "INVALID_INPUT", f"The url must start with /services/data/vXX.X/: {sub.get('url')}")
            if {h.lower() for h in sub.get("httpHeaders", {})} & {"accept", "authorization", "content-type"}:
                raise SfError(400, "INVALID_INPUT", "httpHeaders may not set Accept, Authorization or Content-Type")
        all_or_none = bool(payload.get("allOrNone", False))
        with self.org.all_or_none(all_or_none):
            results, failed = self._run_subrequests(subrequests, all_or_none)
            if failed and all_or_none:
                self.org.rollback()
                results = [r if r["httpStatusCode"] >= 400 else {
                    **r, "httpStatusCode": 400, "httpHeaders": {},
                    "body": [{"errorCode": "PROCESSING_HALTED",
                              "message": "The transaction was rolled back since another operation in the same "
                                         "transaction failed."}]} for r in results]
        return RestResult(200, {"compositeResponse": results})

    def _run_subrequests(self, subrequests: list[dict], all_or_none: bool) -> tuple[list[dict], bool]:
        results, by_reference, failed = [], {}, False
        for sub in subrequests:
            reference = sub["referenceId"]
            if failed and all_or_none:
                results.append({"body": [{"errorCode": "PROCESSING_HALTED", "message": "The transaction was rolled "
                                          "back since another operation in the same transaction failed."}],
                                "httpHeaders": {}, "httpStatusCode": 400, "referenceId": reference})
                continue
            try:
                url = _resolve(sub["url"], by_reference)
                body = json.loads(_resolve(json.dumps(sub.get("body")), by_reference)) if "body" in sub else None
                path, _, query = url.partition("?")
                inner = RestRequest(sub["method"], path.split(f"/v{self.version}/", 1)[-1],
                                    dict(p.split("=", 1) for p in query.split("&") if "=" in p),
                                    {"content-type": "application/json"}, json.dumps(body).encode() if body else b"")
                if inner.path.split("/")[-1] == "VersionData":
                    raise SfError(400, "INVALID_INPUT", "Binary GETs are not supported in composite")
                outcome = self.handle(inner)
                results.append({"body": outcome.body, "httpHeaders": outcome.headers,
                                "httpStatusCode": outcome.status, "referenceId": reference})
                by_reference[reference] = outcome.body
            except SfError as exc:
                failed = True
                results.append({"body": exc.body(), "httpHeaders": {}, "httpStatusCode": exc.status,
                                "referenceId": reference})
        return results, failed

    def _collections(self, request: RestRequest) -> RestResult:
        payload = _json(request.body)
        records = payload.get("records")
        if request.method not in ("POST", "PATCH") or not isinstance(records, list):
            raise SfError(400, "INVALID_INPUT", "records is required")
        if len(records) > 200:
            raise SfError(400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records")
        all_or_none = bool(payload.get("allOrNone", False))
        with self.org.all_or_none(all_or_none):
            results, failed = [], False
            for record in records:
                try:
                    kind = (record.get("attributes") or {}).get("type")
                    if not kind:
                        raise SfError(400, "INVALID_INPUT", "Each record needs attributes.type")
                    fields = {k: v for k, v in record.items() if k not in ("attributes", "id")}
                    if request.method == "POST":
                        record_id = self.org.create(kind, fields)
                    else:
                        record_id = record.get("id")
                        self.org.update(kind, record_id or "", fields)
                    results.append({"id": record_id, "success": True, "errors": []})
                except SfError as exc:
                    failed = True
                    results.append({"success": False, "errors": [
                        {"statusCode": exc.code, "message": exc.message, "fields": exc.fields or []}]})
            if failed and all_or_none:
                self.org.rollback()
                results = [r if not r["success"] else {"id": None, "success": False, "errors": [
                    {"statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK", "message": "Record rolled back because "
                     "not all records were valid and the request was using AllOrNone header", "fields": []}]}
                    for r in results]
        return RestResult(200, results)


def _json(body: bytes):
    try:
        return json.loads(body or b"null")
    except ValueError:
        raise SfError(400, "JSON_PARSER_ERROR", "The request body is not valid JSON") from None


def _resolve(text: str, results: dict) -> str:
    def value(match: re.Match) -> str:
        reference, path = match.group(1), match.group(2)
        if reference not in results:
            raise SfError(400, "INVALID_REFERENCE", f"Invalid reference specified. No value for {reference}.{path}")
        current = results[reference]
        for step in re.findall(r"[^.\[\]]+|\[\d+\]", path):
            current = current[int(step[1:-1])] if step.startswith("[") else current.get(step)
        return str(current)

    return REFERENCE.sub(value, text)


def describe(spec) -> dict:
    return {
        "name": spec.name, "keyPrefix": spec.prefix, "createable": spec.createable,
        "fields": [{
            "name": f.name, "type": f.type, "length": f.length, "createable": f.createable,
            "updateable": f.updateable, "nillable": not f.required, "filterable": f.filterable,
            "custom": f.name.endswith("__c"), "referenceTo": list(f.reference_to), "relationshipName": f.relationship,
            "picklistValues": [{"active": True, "defaultValue": v == f.default, "label": v, "validFor": None,
                                "value": v} for v in f.picklist],
        } for f in spec.fields.values()],
        "childRelationships": [{"childSObject": c.child, "field": c.field, "relationshipName": c.name}
                               for c in spec.children],
    }
