"""Strict parsing of a ContentVersion multipart upload, with the part rules of the REST guide."""

from __future__ import annotations

import json
import re

from connector.sandbox.salesforce_sim.records import SfError


def _bad(message: str) -> SfError:
    return SfError(400, "INVALID_MULTIPART_REQUEST", message)


def part_headers(raw: bytes) -> dict[str, str]:
    headers = {}
    for line in raw.decode("latin-1").split("\r\n"):
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return headers


def parse_upload(content_type: str, body: bytes, blob_field: str = "VersionData") -> tuple[dict, bytes, str]:
    """The JSON fields, the binary content and its filename."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not match:
        raise _bad("multipart/form-data needs a boundary")
    boundary = match.group(1)
    if len(boundary) > 70:
        raise _bad("the boundary is longer than 70 characters")
    delimiter = b"--" + boundary.encode()
    if not body.rstrip(b"\r\n").endswith(delimiter + b"--"):
        raise _bad("the last boundary must end with --")
    chunks = body.split(delimiter)[1:-1]
    parts = []
    for chunk in chunks:
        chunk = chunk.removeprefix(b"\r\n")
        head, separator, data = chunk.partition(b"\r\n\r\n")
        if not separator:
            raise _bad("a part has no blank line between its headers and its data")
        headers = part_headers(head)
        disposition = headers.get("content-disposition", "")
        if not disposition.startswith("form-data") or "content-type" not in headers:
            raise _bad("every part needs Content-Disposition: form-data and a Content-Type")
        name = re.search(r'name="([^"]*)"', disposition)
        filename = re.search(r'filename="([^"]*)"', disposition)
        parts.append((name.group(1) if name else "", filename.group(1) if filename else None,
                      headers["content-type"], data.removesuffix(b"\r\n")))
    if len(parts) != 2:
        raise _bad("expected two parts: the JSON fields, then the binary content")
    (_, _, json_type, json_data), (blob_name, filename, _, blob) = parts
    if not json_type.startswith("application/json"):
        raise _bad("the first part must be application/json")
    if blob_name != blob_field or not filename:
        raise _bad(f'the binary part must be name="{blob_field}" with a filename')
    try:
        fields = json.loads(json_data)
    except ValueError:
        raise SfError(400, "JSON_PARSER_ERROR", "the first part is not valid JSON") from None
    return fields, blob, filename
