"""HTTP face of the simulated org: login endpoints, the REST API with auth, limits and counting."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connector.sandbox.salesforce_sim.auth import (
    SOAP_FAULT,
    Credentials,
    OAuthError,
    Sessions,
    soap_login,
    soap_login_response,
    token_grant,
)
from connector.sandbox.salesforce_sim.records import SfError
from connector.sandbox.salesforce_sim.rest import RestApi, RestRequest

_VERSION = re.compile(r"^v(\d{2}\.\d)$")
_ID_SEGMENT = re.compile(r"^[a-zA-Z0-9]{15,18}$")


def _route_template(path: str) -> str:
    parts = ["{id}" if _ID_SEGMENT.match(p) and any(c.isdigit() for c in p) else p for p in path.split("/") if p]
    if parts[:1] in (["query"], ["queryAll"]) and len(parts) == 2:
        parts[1] = "{locator}"
    return "/" + "/".join(parts)


class ApiUsage:
    def __init__(self, daily_limit: int):
        self.daily_limit = daily_limit
        self.used = 0
        self.by_route: Counter[str] = Counter()

    def header(self) -> str:
        return f"api-usage={self.used}/{self.daily_limit}"


def build_app(*, rest: RestApi, creds: Credentials, sessions: Sessions, usage: ApiUsage, api_version: str,
              user_id: Callable[[], str], extra_routes: list) -> Starlette:
    def error(exc: SfError) -> Response:
        return JSONResponse(exc.body(), status_code=exc.status, headers={"Sforce-Limit-Info": usage.header()})

    async def token(request: Request) -> Response:
        body = await request.body()
        base = str(request.base_url).rstrip("/")
        audiences = ["https://login.salesforce.com", "https://test.salesforce.com", base]
        try:
            token_grant(creds, body, request.headers.get("authorization"), audiences)
        except OAuthError as exc:
            return JSONResponse({"error": exc.error, "error_description": exc.description}, status_code=exc.status)
        org_user = user_id()
        return JSONResponse({
            "access_token": sessions.issue(), "instance_url": base, "token_type": "Bearer", "scope": "api",
            "id": f"{base}/id/00D5g000004ConnAAA/{org_user}", "issued_at": "1716216000000",
            "signature": "c2FuZGJveA==",
        })

    async def soap(request: Request) -> Response:
        body = await request.body()
        if not soap_login(creds, body):
            return Response(SOAP_FAULT, status_code=500, media_type="text/xml")
        version = request.path_params["version"]
        xml = soap_login_response(str(request.base_url).rstrip("/"), version, sessions.issue(), user_id(), creds)
        return Response(xml, media_type="text/xml")

    async def data(request: Request) -> Response:
        version_segment, _, path = request.path_params["path"].partition("/")
        if not _VERSION.match(version_segment):
            return error(SfError(404, "NOT_FOUND", "The requested resource does not exist"))
        authorization = request.headers.get("authorization", "")
        if not authorization.startswith("Bearer ") or not sessions.valid(authorization[7:]):
            return error(SfError(401, "INVALID_SESSION_ID", "Session expired or invalid"))
        if usage.used >= usage.daily_limit:
            return error(SfError(403, "REQUEST_LIMIT_EXCEEDED", f"TotalRequests Limit exceeded. Limit: "
                                 f"{usage.daily_limit}"))
        usage.used += 1
        usage.by_route[f"{request.method} {_route_template(path)}"] += 1
        if path.strip("/") == "limits":
            return JSONResponse({"DailyApiRequests": {"Max": usage.daily_limit,
                                                      "Remaining": usage.daily_limit - usage.used}},
                                headers={"Sforce-Limit-Info": usage.header()})
        rest_request = RestRequest(
            method=request.method, path=path, query=dict(request.query_params),
            headers={k.lower(): v for k, v in request.headers.items()}, body=await request.body(),
        )
        try:
            result = await run_in_threadpool(rest.handle, rest_request)
        except SfError as exc:
            return error(exc)
        headers = {"Sforce-Limit-Info": usage.header(), **result.headers}
        if result.raw is not None:
            return Response(result.raw, status_code=result.status, headers=headers)
        if result.status == 204:
            return Response(status_code=204, headers=headers)
        return Response(json.dumps(result.body), status_code=result.status, headers=headers,
                        media_type="application/json;charset=UTF-8")

    return Starlette(routes=[
        Route("/services/oauth2/token", token, methods=["POST"]),
        Route("/services/Soap/u/{version}", soap, methods=["POST"]),
        Route("/services/data/{path:path}", data, methods=["GET", "POST", "PATCH", "DELETE", "PUT"]),
        *extra_routes,
    ])

