"""A writeback on the wire: Composite subrequests, and multipart ContentVersion uploads for big files."""

from __future__ import annotations

import base64
import json
import mimetypes
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from adapters.salesforce.records import rest_value
from connector.ports.blobs import StreamedBody
from connector.ports.crm import FileUpload, Writeback

COMPOSITE_LIMIT = 25  # subrequests per Composite call
# Raw bytes of files that travel inline (base64 in the Composite JSON) per writeback; bigger ones go as a
# streamed multipart upload each (one more API call). Salesforce allows 37.5 MB of base64 data in a JSON
# body, but the JSON is built in memory (the base64 text, the JSON text, its bytes: about 4 copies at 4/3
# the size), so a file inline costs a multiple of itself in memory while the multipart upload streams it.
MULTIPART_THRESHOLD = 1024 * 1024


@dataclass(frozen=True)
class Subrequest:
    reference: str
    kind: Literal["file", "fields", "task"]
    method: str
    url: str
    body: dict
    what: str  # names the write in error messages

    def as_json(self) -> dict:
        return {"method": self.method, "url": self.url, "referenceId": self.reference, "body": self.body}


def in_file_order(separately: Sequence[bool], separate_ids: Sequence[str],
                  inline_ids: Sequence[str]) -> tuple[str, ...]:
    """The ContentVersion ids in the order of the writeback's files (`separately[i]`: the i-th file was uploaded
    on its own), from the ids of each group in its own order, as split_files keeps them."""
    separate, inline = iter(separate_ids), iter(inline_ids)
    return tuple(next(separate) if alone else next(inline) for alone in separately)


def split_files(files: Sequence[FileUpload], threshold: int) -> tuple[list[FileUpload], list[FileUpload]]:
    """(inline, separate): files go inline in the Composite body while their total stays within
    `threshold` raw bytes; the others are uploaded one by one as multipart."""
    inline: list[FileUpload] = []
    separate: list[FileUpload] = []
    budget = threshold
    for upload in files:
        if upload.size <= budget:
            inline.append(upload)
            budget -= upload.size
        else:
            separate.append(upload)
    return inline, separate


def content_version_fields(opportunity_id: str, upload: FileUpload) -> dict:
    return {"Title": upload.title, "PathOnClient": upload.filename, "FirstPublishLocationId": opportunity_id}


def composite_subrequests(writeback: Writeback, inline_files: Sequence[FileUpload], api_version: str,
                          today: date) -> list[Subrequest]:
    """File creates, the Opportunity update, then the task creates, in that order."""
    base = f"/services/data/v{api_version}/sobjects"
    opp = writeback.opportunity_id
    subrequests: list[Subrequest] = []
    for index, upload in enumerate(inline_files):
        body = {**content_version_fields(opp, upload),
                "VersionData": base64.b64encode(upload.content).decode()}
        subrequests.append(Subrequest(f"file{index}", "file", "POST", f"{base}/ContentVersion", body,
                                      f"the upload of {upload.title!r} to Opportunity {opp}"))
    if writeback.fields:
        body = {name: rest_value(value) for name, value in writeback.fields.items()}
        subrequests.append(Subrequest("opportunity", "fields", "PATCH", f"{base}/Opportunity/{opp}", body,
                                      f"the update of Opportunity {opp}"))
    for index, task in enumerate(writeback.tasks):
        body = {"WhatId": opp, "Subject": task.subject, "Description": task.description,
                "Status": "Completed", "Priority": "Normal", "ActivityDate": today.isoformat()}
        subrequests.append(Subrequest(f"task{index}", "task", "POST", f"{base}/Task", body,
                                      f"logging the task {task.subject!r} on Opportunity {opp}"))
    return subrequests


def multipart_boundary(upload: FileUpload) -> str:
    """A boundary that does not occur in the file (the file is read through once, in chunks)."""
    boundary = f"connector-{uuid.uuid4().hex}"
    while upload.blob.contains(boundary.encode()):
        boundary = f"connector-{uuid.uuid4().hex}"
    return boundary


def multipart_content_version(opportunity_id: str, upload: FileUpload,
                              boundary: str | None = None) -> tuple[StreamedBody, str]:
    """(body, Content-Type) for POST sobjects/ContentVersion: a JSON part with the fields, then the bytes.

    The body streams the file from its blob as `requests` sends it, and can be sent again on a retry;
    `b"".join(body)` is the whole body."""
    boundary = boundary or multipart_boundary(upload)
    entity = json.dumps(content_version_fields(opportunity_id, upload)).encode()
    filename = upload.filename.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
    file_type = mimetypes.guess_type(upload.filename)[0] or "application/octet-stream"
    head = b"".join([
        f"--{boundary}\r\n".encode(),
        b'Content-Disposition: form-data; name="entity_content"\r\n',
        b"Content-Type: application/json\r\n\r\n",
        entity, b"\r\n",
        f"--{boundary}\r\n".encode(),
        f'Content-Disposition: form-data; name="VersionData"; filename="{filename}"\r\n'.encode(),
        f"Content-Type: {file_type}\r\n\r\n".encode(),
    ])
    body = StreamedBody([head, upload.blob, f"\r\n--{boundary}--\r\n".encode()])
    return body, f"multipart/form-data; boundary={boundary}"
