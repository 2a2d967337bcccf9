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

from connector.crm import FileUpload, Writeback
from connector.salesforce.records import rest_value

COMPOSITE_LIMIT = 25  # subrequests per Composite call
# A JSON body may carry 50 MB of text, i.e. 37.5 MB of data once base64-encoded; keep a margin for the rest.
MULTIPART_THRESHOLD = 30 * 1024 * 1024


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


def split_files(files: Sequence[FileUpload], threshold: int) -> tuple[list[FileUpload], list[FileUpload]]:
    """(inline, separate): files go inline in the Composite body while their total stays within
    `threshold` raw bytes; the others are uploaded one by one as multipart."""
    inline: list[FileUpload] = []
    separate: list[FileUpload] = []
    budget = threshold
    for upload in files:
        if len(upload.content) <= budget:
            inline.append(upload)
            budget -= len(upload.content)
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


def multipart_content_version(opportunity_id: str, upload: FileUpload) -> tuple[bytes, str]:
    """(body, Content-Type) for POST sobjects/ContentVersion: a JSON part with the fields, then the bytes."""
    boundary = f"connector-{uuid.uuid4().hex}"
    while boundary.encode() in upload.content:  # the boundary must not occur in the body
        boundary = f"connector-{uuid.uuid4().hex}"
    entity = json.dumps(content_version_fields(opportunity_id, upload)).encode()
    filename = upload.filename.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
    file_type = mimetypes.guess_type(upload.filename)[0] or "application/octet-stream"
    body = b"".join([
        f"--{boundary}\r\n".encode(),
        b'Content-Disposition: form-data; name="entity_content"\r\n',
        b"Content-Type: application/json\r\n\r\n",
        entity, b"\r\n",
        f"--{boundary}\r\n".encode(),
        f'Content-Disposition: form-data; name="VersionData"; filename="{filename}"\r\n'.encode(),
        f"Content-Type: {file_type}\r\n\r\n".encode(),
        upload.content, b"\r\n",
        f"--{boundary}--\r\n".encode(),
    ])
    return body, f"multipart/form-data; boundary={boundary}"
