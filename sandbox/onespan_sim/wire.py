"""Wire formats of the simulated OneSpan API: the multipart create, JSON bodies, file downloads."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sandbox.onespan_sim.model import OneSpanError, invalid

JSON_TYPE = "application/json; esl-api-version=11"
_DISPOSITION_PARAM = re.compile(r';\s*([a-zA-Z*]+)="([^"]*)"')


def json_response(data: object, status_code: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status_code, media_type=JSON_TYPE)


def error_response(exc: OneSpanError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.code, media_type=JSON_TYPE)


def file_response(content: bytes, filename: str, media_type: str) -> Response:
    # The SDK reads the name from exactly this RFC 5987 form.
    disposition = f"attachment; filename*=UTF-8''{quote(filename, safe='')}"
    return Response(content, media_type=media_type, headers={"Content-Disposition": disposition})


async def json_body(request: Request) -> dict:
    raw = await request.body()
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise invalid("The request body is not valid JSON.", "error.validation.invalidJson") from None
    if not isinstance(data, dict):
        raise invalid("The request body must be a JSON object.", "error.validation.invalidJson")
    return data


def _part_headers(raw: bytes) -> dict[str, str]:
    headers = {}
    for line in raw.decode("latin-1").split("\r\n"):
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    return headers


def parse_create_multipart(content_type: str, body: bytes) -> tuple[object, list[tuple[str, bytes]]]:
    """The `payload` part (Package JSON, in any position) and the `file` parts as (filename, content)."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not match:
        raise invalid("multipart/form-data needs a boundary.", "error.validation.multipart")
    delimiter = b"--" + match.group(1).encode("latin-1")
    chunks = body.split(delimiter)
    if len(chunks) < 3 or not chunks[-1].startswith(b"--"):
        raise invalid("The multipart body is malformed.", "error.validation.multipart")
    payload: object = None
    files: list[tuple[str, bytes]] = []
    for chunk in chunks[1:-1]:
        head, separator, data = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not separator:
            raise invalid("A multipart part has no header block.", "error.validation.multipart")
        data = data.removesuffix(b"\r\n")
        disposition = _part_headers(head).get("content-disposition", "")
        params = dict(_DISPOSITION_PARAM.findall(disposition))
        if not disposition.startswith("form-data"):
            raise invalid("Every part needs Content-Disposition: form-data.", "error.validation.multipart")
        if params.get("name") == "payload":
            if payload is not None:
                raise invalid("Only one payload part is allowed.", "error.validation.multipart")
            try:
                payload = json.loads(data)
            except (ValueError, UnicodeDecodeError):
                raise invalid("The payload part is not valid JSON.", "error.validation.invalidJson") from None
        elif params.get("name") == "file" and params.get("filename"):
            files.append((params["filename"], data))
        else:
            raise invalid("Unexpected multipart part; expected a payload part and file parts with a "
                          "filename.", "error.validation.multipart")
    if payload is None:
        raise invalid("The payload part is missing.", "error.validation.multipart")
    return payload, files
