"""Composite (`/composite`), sObject Collections (`/composite/sobjects`) and Composite Batch
(`/composite/batch`)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from urllib.parse import parse_qsl

from sandbox.salesforce_sim.errors import SfError, invalid_input, not_found
from sandbox.salesforce_sim.ids import canonical_id
from sandbox.salesforce_sim.org import Org
from sandbox.salesforce_sim.wire import RestRequest, RestResult, json_body, method_not_allowed

MAX_SUBREQUESTS = 25
MAX_QUERIES_AND_COLLECTIONS = 5
MAX_RECORDS = 200
MAX_TYPE_CHUNKS = 10
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
FORBIDDEN_HEADERS = {"accept", "authorization", "content-type"}
REFERENCE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_]*")
REFERENCE = re.compile(r"@\{([A-Za-z0-9][A-Za-z0-9_]*)((?:\.[^.\[\]{}]+|\[\d+\])+)\}")
ROLLED_BACK = "The transaction was rolled back since another operation in the same transaction failed."
NOT_ALL_SAVED = ("Record rolled back because not all records were valid and the request was using AllOrNone "
                 "header")

Handler = Callable[[RestRequest], RestResult]


def _flag(payload: dict, name: str) -> bool:
    value = payload.get(name, False)
    if not isinstance(value, bool):
        raise invalid_input(f"{name} must be true or false")
    return value


def _halted(reference: str, message: str) -> dict:
    return {"body": [{"errorCode": "PROCESSING_HALTED", "message": message}], "httpHeaders": {},
            "httpStatusCode": 400, "referenceId": reference}


class Composite:
    def __init__(self, org: Org, api_version: str, handle: Handler):
        self.org = org
        self.version = api_version
        self.handle_inner = handle

    def handle(self, rest: list[str], request: RestRequest) -> RestResult:
        if rest and rest[0] == "sobjects":
            return self.collections(request, rest[1:])
        if rest not in ([], ["batch"]):
            raise not_found()
        if request.method != "POST":
            raise method_not_allowed(request.method, "POST")
        return self.batch(request) if rest else self.composite(request)

    # --- Composite ---------------------------------------------------------------------------

    def _validated_subrequests(self, payload: object) -> list[dict]:
        if not isinstance(payload, dict) or not isinstance(payload.get("compositeRequest"), list):
            raise invalid_input("compositeRequest is required and must be a list of subrequests")
        subrequests = payload["compositeRequest"]
        if not 1 <= len(subrequests) <= MAX_SUBREQUESTS:
            raise invalid_input(f"A composite request takes 1 to {MAX_SUBREQUESTS} subrequests, "
                                f"not {len(subrequests)}")
        seen: set[str] = set()
        heavy = 0
        for sub in subrequests:
            if not isinstance(sub, dict):
                raise invalid_input("Each subrequest must be a JSON object")
            reference, url = sub.get("referenceId"), sub.get("url")
            if not isinstance(reference, str) or not REFERENCE_ID.fullmatch(reference):
                raise invalid_input(f"Invalid referenceId: {reference!r}; use letters, digits and "
                                    "underscores, starting with a letter or digit")
            if reference in seen:
                raise invalid_input(f"Duplicate referenceId provided in the request: {reference}")
            if sub.get("method") not in METHODS:
                raise invalid_input(f"Invalid method for subrequest {reference}: {sub.get('method')!r}")
            version = re.match(r"/services/data/v(\d+\.\d)/", url) if isinstance(url, str) else None
            if version is None or float(version.group(1)) > float(self.version):
                raise invalid_input(f"The url of subrequest {reference} must start with "
                                    f"/services/data/vXX.X/ for a version up to {self.version}")
            headers = sub.get("httpHeaders", {})
            if not isinstance(headers, dict) or {h.lower() for h in headers} & FORBIDDEN_HEADERS:
                raise invalid_input("httpHeaders may not set Accept, Authorization or Content-Type")
            for used in REFERENCE.findall(url + json.dumps(sub.get("body"))):
                if used[0] not in seen:
                    raise invalid_input(f"Invalid reference specified. No value for {used[0]}{used[1]} "
                                        f"found in {used[0]}. Provided referenceId ({used[0]}) must refer "
                                        "to an earlier subrequest.")
            path = url.split("/", 4)[-1]
            heavy += path.startswith(("query", "queryAll", "composite/sobjects"))
            seen.add(reference)
        if heavy > MAX_QUERIES_AND_COLLECTIONS:
            raise invalid_input(f"A composite request may hold at most {MAX_QUERIES_AND_COLLECTIONS} query "
                                "and sObject Collections subrequests")
        return subrequests

    def composite(self, request: RestRequest) -> RestResult:
        payload = json_body(request)
        subrequests = self._validated_subrequests(payload)
        all_or_none = _flag(payload, "allOrNone")
        _flag(payload, "collateSubrequests")
        with self.org.transaction(all_or_none):
            results: list[dict] = []
            outputs: dict[str, object] = {}
            failed: set[str] = set()
            for sub in subrequests:
                reference = sub["referenceId"]
                depends_on = {used[0] for used in REFERENCE.findall(sub["url"] + json.dumps(sub.get("body")))}
                if failed and all_or_none:
                    results.append(_halted(reference, ROLLED_BACK))
                elif depends_on & failed:
                    unmet = ", ".join(sorted(depends_on & failed))
                    message = f"Invalid reference specified. The subrequest(s) {unmet} did not succeed."
                    results.append(_halted(reference, message))
                else:
                    try:
                        outcome = self.handle_inner(self._inner_request(sub, outputs))
                        results.append({"body": outcome.body, "httpHeaders": outcome.headers,
                                        "httpStatusCode": outcome.status, "referenceId": reference})
                        outputs[reference] = outcome.body
                        continue
                    except SfError as exc:
                        results.append({"body": exc.body(), "httpHeaders": {}, "httpStatusCode": exc.status,
                                        "referenceId": reference})
                failed.add(reference)
            if failed and all_or_none:
                self.org.rollback()
                results = [r if r["httpStatusCode"] >= 400 else _halted(r["referenceId"], ROLLED_BACK)
                           for r in results]
        return RestResult(200, {"compositeResponse": results})

    def _inner_request(self, sub: dict, outputs: dict[str, object]) -> RestRequest:
        url = REFERENCE.sub(lambda m: str(_lookup(outputs, m.group(1), m.group(2))), sub["url"])
        body = None
        if sub.get("body") is not None:
            text = REFERENCE.sub(lambda m: json.dumps(str(_lookup(outputs, m.group(1), m.group(2))))[1:-1],
                                 json.dumps(sub["body"]))
            body = text.encode()
        path, _, query = url.split("/", 4)[-1].partition("?")
        headers = {name.lower(): value for name, value in sub.get("httpHeaders", {}).items()}
        headers["content-type"] = "application/json"
        return RestRequest(sub["method"], path, dict(parse_qsl(query)), headers, body or b"",
                           inside_composite=True)

    # --- sObject Collections -----------------------------------------------------------------

    def collections(self, request: RestRequest, rest: list[str] | None = None) -> RestResult:
        rest = rest or []
        if request.method == "GET" and len(rest) == 1:
            return self._retrieve(rest[0], request)
        if rest:
            raise not_found()
        if request.method == "DELETE":
            ids = [i for i in request.query.get("ids", "").split(",") if i]
            if not 1 <= len(ids) <= MAX_RECORDS:
                raise invalid_input(f"ids takes 1 to {MAX_RECORDS} record Ids")
            jobs = [(None, {"id": record_id}) for record_id in ids]
            return self._save_all(jobs, request.query.get("allOrNone") == "true", "DELETE")
        if request.method not in ("POST", "PATCH"):
            raise method_not_allowed(request.method, "GET,POST,PATCH,DELETE")
        payload = json_body(request)
        if not isinstance(payload, dict) or not isinstance(payload.get("records"), list):
            raise invalid_input("records is required and must be a list")
        records = payload["records"]
        if not 1 <= len(records) <= MAX_RECORDS:
            raise SfError(400, "EXCEEDED_ID_LIMIT", f"record limit reached. cannot submit more than "
                          f"{MAX_RECORDS} records into this call")
        types = [(r.get("attributes") or {}).get("type") if isinstance(r, dict) else None for r in records]
        if sum(1 for i, kind in enumerate(types) if i == 0 or kind != types[i - 1]) > MAX_TYPE_CHUNKS:
            raise invalid_input(f"records of different types may form at most {MAX_TYPE_CHUNKS} chunks")
        jobs = list(zip(types, records, strict=True))
        return self._save_all(jobs, _flag(payload, "allOrNone"), request.method)

    def _save_all(self, jobs: list[tuple], all_or_none: bool, method: str) -> RestResult:
        with self.org.transaction(all_or_none):
            results = [self._save_one(method, *job) for job in jobs]
            if all_or_none and not all(r["success"] for r in results):
                self.org.rollback()
                rolled_back = {"statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK", "message": NOT_ALL_SAVED,
                               "fields": []}
                results = [r if not r["success"] else {**r, "success": False, "errors": [rolled_back]}
                           for r in results]
                if method == "POST":
                    results = [{k: v for k, v in r.items() if k != "id"} for r in results]
        return RestResult(200, results)

    def _save_one(self, method: str, kind: str | None, record: object) -> dict:
        record_id = None
        try:
            if not isinstance(record, dict):
                raise SfError(400, "INVALID_FIELD", "Each record must be a JSON object")
            fields = dict(record)
            if method != "POST":
                record_id = fields.pop("id", None) or fields.pop("Id", None)
                if not record_id:
                    raise SfError(400, "MISSING_ARGUMENT", f"Id not specified in an {method.lower()} call",
                                  ["Id"])
            if method == "DELETE":
                kind = _object_of(self.org, record_id)
            elif not kind:
                raise SfError(400, "INVALID_FIELD", "Each record needs attributes.type")
            if method == "POST":
                record_id = self.org.create(kind, fields)
            elif method == "PATCH":
                self.org.update(kind, record_id, fields)
            else:
                self.org.delete(kind, record_id)
            saved = self.org.get(self.org.spec(kind).name, record_id)
            return {"id": saved["Id"], "success": True, "errors": []}
        except SfError as exc:
            failure = {"success": False, "errors": [exc.save_error()]}
            return {"id": record_id, **failure} if record_id and method != "POST" else failure

    def _retrieve(self, name: str, request: RestRequest) -> RestResult:
        ids = [i for i in request.query.get("ids", "").split(",") if i]
        fields = request.query.get("fields")
        if not ids or not fields:
            raise invalid_input("ids and fields are required")
        spec = self.org.spec(name)
        rows = []
        for record_id in ids:
            inner = RestRequest("GET", f"sobjects/{spec.name}/{record_id}", {"fields": fields}, {},
                                inside_composite=True)
            try:
                rows.append(self.handle_inner(inner).body)
            except SfError as exc:
                if exc.code == "INVALID_FIELD":
                    raise
                rows.append(None)
        return RestResult(200, rows)

    # --- Composite Batch ---------------------------------------------------------------------

    def batch(self, request: RestRequest) -> RestResult:
        payload = json_body(request)
        subrequests = payload.get("batchRequests") if isinstance(payload, dict) else None
        if not isinstance(subrequests, list) or not 1 <= len(subrequests) <= MAX_SUBREQUESTS:
            raise invalid_input(f"batchRequests takes 1 to {MAX_SUBREQUESTS} subrequests")
        halt_on_error = _flag(payload, "haltOnError")
        results, halted = [], False
        for sub in subrequests:
            if halted:
                halt = {"errorCode": "BATCH_PROCESSING_HALTED",
                        "message": "Batch processing halted per request"}
                results.append({"statusCode": 412, "result": [halt]})
                continue
            try:
                outcome = self.handle_inner(self._batch_request(sub))
                results.append({"statusCode": outcome.status, "result": outcome.body})
            except SfError as exc:
                results.append({"statusCode": exc.status, "result": exc.body()})
                halted = halt_on_error
        has_errors = any(r["statusCode"] >= 400 for r in results)
        return RestResult(200, {"hasErrors": has_errors, "results": results}, calls=len(subrequests))

    def _batch_request(self, sub: object) -> RestRequest:
        url = sub.get("url") if isinstance(sub, dict) else None
        match = re.match(r"v(\d+\.\d)/", url) if isinstance(url, str) else None
        if not match or not 34.0 <= float(match.group(1)) <= float(self.version):
            raise invalid_input(f"url must be relative to /services/data/ with a version from 34.0 to "
                                f"{self.version}: {url!r}")
        if sub.get("method") not in METHODS:
            raise invalid_input(f"Invalid method: {sub.get('method')!r}")
        path, _, query = url[match.end():].partition("?")
        body = sub.get("richInput")
        return RestRequest(sub["method"], path, dict(parse_qsl(query)), {"content-type": "application/json"},
                           json.dumps(body).encode() if body is not None else b"", inside_composite=True)


def _lookup(outputs: dict[str, object], reference: str, path: str) -> object:
    current = outputs.get(reference)
    for key, index in re.findall(r"\.([^.\[\]]+)|\[(\d+)\]", path):
        if index and isinstance(current, list) and int(index) < len(current):
            current = current[int(index)]
        elif key and isinstance(current, dict) and key in current:
            current = current[key]
        else:
            raise invalid_input(f"Invalid reference specified. No value for {reference}{path} found in "
                                f"{reference}.")
    return current


def _object_of(org: Org, record_id: str) -> str:
    if canonical_id(record_id) is None:
        raise SfError(400, "MALFORMED_ID", f"malformed id {record_id}", ["Id"])
    found = org.find(record_id)
    if found is None:
        raise SfError(400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", ["Id"])
    return found[0]
