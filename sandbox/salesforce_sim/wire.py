"""A REST request and result as the resources see them, independent of the HTTP server."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from sandbox.salesforce_sim.errors import SfError, bad_json


@dataclass
class RestRequest:
    method: str
    path: str  # after /services/data/vXX.X/
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes = b""
    inside_composite: bool = False


@dataclass
class RestResult:
    status: int
    body: object = None
    raw: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    calls: int = 1  # API calls the request counts as (Composite Batch counts each subrequest)


def method_not_allowed(method: str, allowed: str) -> SfError:
    return SfError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed. Allowed are {allowed}")


def json_body(request: RestRequest) -> object:
    content_type = request.headers.get("content-type", "")
    if not content_type.split(";")[0].strip().lower() == "application/json":
        raise SfError(415, "UNSUPPORTED_MEDIA_TYPE", f"Content-Type header specified in HTTP request is not "
                      f"supported: {content_type}")
    try:
        return json.loads(request.body)
    except ValueError:
        raise bad_json() from None
