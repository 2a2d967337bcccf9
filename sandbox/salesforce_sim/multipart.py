"""Strict reading of a multipart/form-data blob upload, with the part rules of the REST guide:
a first part with the fields as JSON (any name), then the binary part named after the blob field
with a filename; every part with Content-Disposition: form-data and a Content-Type."""

from __future__ import annotations

import json
import re

from sandbox.salesforce_sim.errors import SfError

MAX_BOUNDARY = 70
_BOUNDARY = re.compile(r"""boundary=(?:"([^"]*)"|([^;\s]+))""", re.I)
_BOUNDARY_CHARS = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]*[0-9A-Za-z'()+_,\-./:=?]")


def _bad(message: str) -> SfError:
    return SfError(400, "INVALID_MULTIPART_REQUEST", message)


def part_headers(raw: bytes) -> dict[str, str]:
    """A part's header block as a dict with lower-case names."""
    headers = {}
    for line in raw.decode("latin-1").split("\r\n"):
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return headers


def _parameter(disposition: str, name: str) -> str | None:
    match = re.search(rf'(?:^|;)\s*{name}="([^"]*)"', disposition)
    return match.group(1) if match else None


def _parts(content_type: str, body: bytes) -> list[tuple[dict[str, str], bytes]]:
    match = _BOUNDARY.search(content_type)
    if not match:
        raise _bad("multipart/form-data needs a boundary parameter")
    boundary = match.group(1) if match.group(1) is not None else match.group(2)
    if not 1 <= len(boundary) <= MAX_BOUNDARY or not _BOUNDARY_CHARS.fullmatch(boundary):
        raise _bad(f"the boundary must be 1 to {MAX_BOUNDARY} characters of the allowed set")
    delimiter = b"--" + boundary.encode()
    opening = body.find(delimiter + b"\r\n")
    closing = body.rfind(b"\r\n" + delimiter + b"--")
    if opening < 0 or closing < opening or body[closing + len(delimiter) + 4:].strip(b"\r\n"):
        raise _bad("the body must open with the boundary delimiter and end with the closing delimiter (--)")
    parts = []
    for chunk in body[opening + len(delimiter) + 2:closing].split(b"\r\n" + delimiter + b"\r\n"):
        head, separator, data = chunk.partition(b"\r\n\r\n")
        if not separator:
            raise _bad("a part needs a blank line between its headers and its data")
        parts.append((part_headers(head), data))
    return parts


def parse_upload(content_type: str, body: bytes, blob_field: str = "VersionData") -> tuple[dict, bytes]:
    """The record's fields (from the JSON part) and the file's bytes."""
    parts = _parts(content_type, body)
    for headers, _ in parts:
        disposition = headers.get("content-disposition", "")
        if not disposition.lower().startswith("form-data") or _parameter(disposition, "name") is None:
            raise _bad("every part needs Content-Disposition: form-data with a name")
        if not headers.get("content-type"):
            raise _bad("every part needs a Content-Type")
    if len(parts) != 2:
        raise _bad(f"expected 2 parts (the JSON fields, then the {blob_field} content), found {len(parts)}")
    (json_headers, json_data), (blob_headers, blob) = parts
    if json_headers["content-type"].split(";")[0].strip().lower() != "application/json":
        raise _bad("the first part must hold the fields as application/json")
    disposition = blob_headers["content-disposition"]
    if _parameter(disposition, "name") != blob_field or not _parameter(disposition, "filename"):
        raise _bad(f'the binary part must be form-data; name="{blob_field}" with a filename')
    try:
        fields = json.loads(json_data)
    except ValueError:
        raise SfError(400, "JSON_PARSER_ERROR", "The first part does not hold valid JSON") from None
    if not isinstance(fields, dict):
        raise SfError(400, "JSON_PARSER_ERROR", "The first part must hold a JSON object")
    return fields, blob
