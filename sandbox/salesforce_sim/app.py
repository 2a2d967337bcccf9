"""HTTP face of the simulated org: the login endpoints, and the REST API behind session checks,
URI limits, the daily API allocation and per-route call counting."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
from collections import Counter
from collections.abc import Callable

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.salesforce_sim.auth import (
    Credentials,
    OAuthError,
    Sessions,
    check_token_request,
    token_response,
)
from sandbox.salesforce_sim.errors import SfError, not_found
from sandbox.salesforce_sim.faults import SESSION_EXPIRED, SalesforceFaults, limit_exceeded
from sandbox.salesforce_sim.ids import canonical_id
from sandbox.salesforce_sim.rest import RestApi
from sandbox.salesforce_sim.soap import LoginUser, SoapFault, check_login, login_response
from sandbox.salesforce_sim.wire import RestRequest, RestResult

log = logging.getLogger(__name__)
MAX_URI_BYTES = 16_384
MAX_TEXT_BODY_BYTES = 50_000_000  # a non-multipart body: 50 MB of text
_VERSION = re.compile(r"v(\d+\.\d)")
JSON_TYPE = "application/json;charset=UTF-8"


class ApiUsage:
    """The org's rolling API count against its daily allocation, and calls per route for tests."""

    def __init__(self, daily_limit: int):
        self.daily_limit = daily_limit
        self.used = 0
        self.by_route: Counter[str] = Counter()
        self.lock = threading.Lock()

    def spend(self, route: str, calls: int = 1) -> bool:
        """Count `calls` against the allocation; False when it is already used up."""
        with self.lock:
            if self.used >= self.daily_limit:
                return False
            self.used += calls
            self.by_route[route] += calls
            return True

    def header(self) -> str:
        with self.lock:
            return f"api-usage={self.used}/{self.daily_limit}"

    def limits(self) -> dict:
        with self.lock:
            remaining = max(self.daily_limit - self.used, 0)
        return {"DailyApiRequests": {"Max": self.daily_limit, "Remaining": remaining},
                "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
                "DailyStreamingApiEvents": {"Max": 10000, "Remaining": 10000},
                "DataStorageMB": {"Max": 5, "Remaining": 5}, "FileStorageMB": {"Max": 20, "Remaining": 20}}

    def reset(self) -> None:
        with self.lock:
            self.used = 0
            self.by_route.clear()


def route_template(path: str) -> str:
    """`sobjects/Opportunity/006…` → `/sobjects/Opportunity/{id}`, `query/01g…-2000` → `/query/{locator}`."""
    parts = [p for p in path.split("/") if p]
    if parts[:1] in (["query"], ["queryAll"]) and len(parts) == 2:
        parts[1] = "{locator}"
    parts = ["{id}" if p[:1].isdigit() and canonical_id(p) else p for p in parts]
    return "/" + "/".join(parts)


def _uri_error(request: Request) -> SfError | None:
    uri = request.url.path + ("?" + request.url.query if request.url.query else "")
    if len(uri.encode()) > MAX_URI_BYTES:
        return SfError(414, "URI_TOO_LONG", f"The request URI is longer than {MAX_URI_BYTES} bytes")
    header_bytes = sum(len(k) + len(v) + 4 for k, v in request.headers.items())
    if len(uri.encode()) + header_bytes > MAX_URI_BYTES:
        return SfError(431, "REQUEST_HEADER_FIELDS_TOO_LARGE",
                       f"The URI and headers exceed {MAX_URI_BYTES} bytes")
    return None


def build_app(*, rest: RestApi, creds: Credentials, sessions: Sessions, usage: ApiUsage, api_version: str,
              login_user: Callable[[], LoginUser], faults: SalesforceFaults,
              extra_routes: list[BaseRoute]) -> Starlette:
    def error(exc: SfError) -> Response:
        return JSONResponse(exc.body(), status_code=exc.status, media_type=JSON_TYPE,
                            headers={"Sforce-Limit-Info": usage.header()})

    def base_url(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    async def token(request: Request) -> Response:
        try:
            check_token_request(creds, await request.body(), request.headers.get("authorization"),
                                base_url(request))
        except OAuthError as exc:
            return JSONResponse({"error": exc.error, "error_description": exc.description}, status_code=400)
        return JSONResponse(token_response(creds, base_url(request), login_user().user_id, sessions.issue()))

    async def soap(request: Request) -> Response:
        if not _VERSION.fullmatch("v" + request.path_params["version"]):
            return Response("Not Found", status_code=404)
        try:
            check_login(creds, await request.body())
        except SoapFault as fault:
            return Response(fault.envelope(), status_code=500, media_type="text/xml")
        xml = login_response(base_url(request), request.path_params["version"], sessions.issue(),
                             sessions.ttl, login_user(), creds.username)
        return Response(xml, media_type="text/xml")

    def versions(_request: Request) -> Response:
        return JSONResponse([{"label": "Winter '24", "url": f"/services/data/v{api_version}",
                              "version": api_version}])

    async def data(request: Request) -> Response:
        version, _, path = request.path_params["path"].partition("/")
        if not version:
            return versions(request)
        match = _VERSION.fullmatch(version)
        if match is None or not 31.0 <= float(match.group(1)) <= float(api_version):
            return error(not_found())
        if (too_long := _uri_error(request)) is not None:
            return error(too_long)
        scheme, _, token_value = request.headers.get("authorization", "").partition(" ")
        template = route_template(path)
        route = f"{request.method} {template}"
        if scheme.lower() not in ("bearer", "oauth") or not sessions.valid(token_value.strip()):
            return error(SESSION_EXPIRED)
        if faults.session_expires_now(route):
            sessions.expire_all()
            return error(SESSION_EXPIRED)
        if faults.limit_exceeded_now(route) or not usage.spend(route):
            return error(limit_exceeded(usage.daily_limit))
        injected, delay = faults.take(request.method, template)
        if delay:
            await asyncio.sleep(delay)
        if injected is not None:
            return error(injected)
        if path.strip("/") == "limits":
            if request.method != "GET":
                return error(SfError(405, "METHOD_NOT_ALLOWED",
                                     f"HTTP Method '{request.method}' not allowed. Allowed are GET,HEAD"))
            return JSONResponse(usage.limits(), media_type=JSON_TYPE,
                                headers={"Sforce-Limit-Info": usage.header()})
        body = await request.body()
        multipart = request.headers.get("content-type", "").lower().startswith("multipart/")
        if len(body) > MAX_TEXT_BODY_BYTES and not multipart:
            return error(SfError(413, "REQUEST_ENTITY_TOO_LARGE", "A non-multipart request body may carry at "
                                 "most 50 MB; send files as multipart/form-data"))
        rest_request = RestRequest(request.method, path, dict(request.query_params),
                                   {k.lower(): v for k, v in request.headers.items()}, body)
        try:
            result = await run_in_threadpool(rest.handle, rest_request)
        except SfError as exc:
            return error(exc)
        except Exception as exc:  # a simulator bug: answer like Salesforce's 500, keep the trace in the log
            log.exception("salesforce simulator failed on %s %s", request.method, path)
            return error(SfError(500, "UNKNOWN_EXCEPTION", f"An unexpected error occurred: {exc!r}"))
        if result.calls > 1:
            usage.spend(route, result.calls - 1)
        return _response(result, usage.header())

    return Starlette(routes=[
        Route("/services/oauth2/token", token, methods=["POST"]),
        Route("/services/Soap/u/{version}", soap, methods=["POST"]),
        Route("/services/data", versions, methods=["GET"]),
        Route("/services/data/{path:path}", data, methods=["GET", "POST", "PATCH", "DELETE", "PUT"]),
        *extra_routes,
    ])


def _response(result: RestResult, limit_info: str) -> Response:
    headers = {"Sforce-Limit-Info": limit_info, **result.headers}
    if result.raw is not None:
        content_type = headers.pop("Content-Type", "application/octet-stream")
        return Response(result.raw, status_code=result.status, headers=headers, media_type=content_type)
    if result.status == 204:
        return Response(status_code=204, headers=headers)
    return Response(json.dumps(result.body), status_code=result.status, headers=headers, media_type=JSON_TYPE)
