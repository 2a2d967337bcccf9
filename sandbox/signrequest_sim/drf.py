"""The Django REST Framework conventions SignRequest's API follows: token auth, parsers, pagination."""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse

from sandbox.signrequest_sim.fields import not_a_dict
from sandbox.signrequest_sim.validation import Upload

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100


class Refusal(Exception):
    """An answer other than 2xx, with its DRF-style JSON body."""

    def __init__(self, status_code: int, body: dict, headers: dict[str, str] | None = None):
        super().__init__(body)
        self.status_code, self.body, self.headers = status_code, body, headers or {}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body, status_code=self.status_code, headers=self.headers)


def not_found() -> Refusal:
    return Refusal(404, {"detail": "Not found."})


def authenticate(request: Request, api_token: str) -> None:
    """DRF's TokenAuthentication: `Authorization: Token <key>`, keyword case-insensitive."""
    parts = request.headers.get("authorization", "").split()
    if not parts or parts[0].lower() != "token":
        detail = "Authentication credentials were not provided."
    elif len(parts) == 1:
        detail = "Invalid token header. No credentials provided."
    elif len(parts) > 2:
        detail = "Invalid token header. Token string should not contain spaces."
    elif not hmac.compare_digest(parts[1].encode(), api_token.encode()):
        detail = "Invalid token."
    else:
        return
    raise Refusal(401, {"detail": detail}, {"WWW-Authenticate": "Token"})


async def read_body(request: Request) -> dict:
    """The request data from JSON, a urlencoded form or multipart/form-data, as DRF's parsers read them."""
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";")[0].strip().lower()
    try:
        body = await request.body()
    except ClientDisconnect:  # the client went (a SIGKILLed daemon) mid-body: nothing to act on, as at SignRequest
        raise Refusal(400, {"detail": "The request body was not received in full."}) from None
    if not body:
        return {}
    if media_type == "application/json":
        try:
            data = json.loads(body)
        except ValueError as error:
            raise Refusal(400, {"detail": f"JSON parse error - {error}"}) from None
        if not isinstance(data, dict):
            raise Refusal(400, {"non_field_errors": [not_a_dict(data)]})
        return data
    if media_type == "application/x-www-form-urlencoded":
        return form_data(dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)))
    if media_type == "multipart/form-data":
        return form_data(_multipart(content_type, body))
    raise Refusal(415, {"detail": f'Unsupported media type "{content_type}" in request.'})


def form_data(fields: dict[str, Any]) -> dict:
    """Flat form fields to request data; DRF reads list items from keys like `signers[0]email`."""
    data: dict = {}
    lists: dict[str, dict[int, Any]] = {}
    for key, value in fields.items():
        match = re.fullmatch(r"(\w+)\[(\d+)\](\w*)", key)
        if not match:
            data[key] = value
            continue
        name, index, member = match.group(1), int(match.group(2)), match.group(3)
        items = lists.setdefault(name, {})
        if member:
            items.setdefault(index, {})[member] = value
        else:
            items[index] = value
    for name, items in lists.items():
        data[name] = [items[index] for index in sorted(items)]
    return data


def _multipart(content_type: str, body: bytes) -> dict[str, Any]:
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not match:
        raise Refusal(400, {"detail": "Multipart form parse error - Invalid boundary in multipart: None"})
    fields: dict[str, Any] = {}
    for chunk in body.split(b"--" + match.group(1).encode())[1:-1]:
        head, _, content = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        disposition = next((line.split(":", 1)[1] for line in head.decode("latin-1").split("\r\n")
                            if line.lower().startswith("content-disposition:")), "")
        name = re.search(r'\bname="([^"]*)"', disposition)
        filename = re.search(r'filename="([^"]*)"', disposition)
        if not name:
            raise Refusal(400, {"detail": "Multipart form parse error - a part has no name"})
        content = content.removesuffix(b"\r\n")
        fields[name.group(1)] = (Upload(filename.group(1), content) if filename
                                 else content.decode("utf-8", "replace"))
    return fields


def paginate(request: Request, base_url: str, items: Sequence, render: Callable[[Sequence], list]) -> dict:
    """PageNumberPagination with `page` and a `limit` page size: {"count", "next", "previous", "results"}."""
    try:
        limit = min(MAX_PAGE_SIZE, int(request.query_params.get("limit", DEFAULT_PAGE_SIZE)))
        limit = limit if limit > 0 else DEFAULT_PAGE_SIZE
    except ValueError:
        limit = DEFAULT_PAGE_SIZE
    pages = max(1, -(-len(items) // limit))
    raw_page = request.query_params.get("page", "1")
    try:
        page = pages if raw_page == "last" else int(raw_page)
    except ValueError:
        raise Refusal(404, {"detail": "Invalid page."}) from None
    if not 1 <= page <= pages:
        raise Refusal(404, {"detail": "Invalid page."})

    def link(number: int) -> str:
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
        if number > 1:
            params.append(("page", str(number)))
        return f"{base_url}{request.url.path}" + (f"?{urlencode(params)}" if params else "")

    return {"count": len(items), "next": link(page + 1) if page < pages else None,
            "previous": link(page - 1) if page > 1 else None,
            "results": render(items[(page - 1) * limit: page * limit])}
