"""Salesforce Files: inserting a ContentVersion makes (or adds to) a ContentDocument and links it."""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import TYPE_CHECKING

from sandbox.salesforce_sim.errors import SfError, required_missing
from sandbox.salesforce_sim.schema import SCHEMA

if TYPE_CHECKING:
    from sandbox.salesforce_sim.org import Org

# A non-multipart REST body carries at most 50 MB of text, which is 37.5 MB of data once base64-encoded.
MAX_INLINE_BYTES = 37_500_000
MAX_INLINE_BASE64 = MAX_INLINE_BYTES * 4 // 3
_FILE_TYPES = {"pdf": "PDF", "docx": "WORD_X", "doc": "WORD", "xlsx": "EXCEL_X", "png": "PNG", "jpg": "JPG",
               "jpeg": "JPG", "txt": "TEXT", "csv": "CSV", "zip": "ZIP", "html": "HTML", "json": "JSON"}


def decode_version_data(encoded: object) -> bytes:
    if not isinstance(encoded, str) or not encoded:
        raise required_missing(["VersionData"])
    if len(encoded) > MAX_INLINE_BASE64:
        raise SfError(400, "STRING_TOO_LONG", "VersionData: data value too large: a JSON body may carry at "
                      "most 37.5 MB of base64-encoded data; upload larger files as multipart/form-data",
                      ["VersionData"])
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise SfError(400, "JSON_PARSER_ERROR", "Cannot deserialize instance of base64 from VALUE_STRING "
                      "value: not valid base64", ["VersionData"]) from None


def create_version(org: Org, values: dict, blob: bytes | None, actor: str) -> str:
    if blob is None:
        blob = decode_version_data(values.get("VersionData"))
    elif "VersionData" in values:
        raise SfError(400, "INVALID_MULTIPART_REQUEST", "VersionData was sent both in the JSON part and as "
                      "the binary part")
    values.pop("VersionData", None)
    path = values["PathOnClient"]
    stem, dot, suffix = path.rpartition(".")
    extension = suffix.lower() if dot and stem else None
    values.setdefault("Title", stem if dot and stem else path)
    document_id = values.get("ContentDocumentId")
    if document_id:
        versions = [v for v in org.live("ContentVersion") if v["ContentDocumentId"] == document_id]
        if values.get("FirstPublishLocationId"):
            raise SfError(400, "FIELD_INTEGRITY_EXCEPTION", "FirstPublishLocationId can be set on the first "
                          "version of a file only", ["FirstPublishLocationId"])
        for version in versions:
            org.remember("ContentVersion", version["Id"])
            version["IsLatest"] = False
        number = len(versions) + 1
    else:
        document = {"Title": values["Title"], "OwnerId": actor}
        document_id = org.insert(SCHEMA["ContentDocument"], document, actor)
        number = 1
    checksum = hashlib.md5(blob).hexdigest()  # noqa: S324 - the checksum Salesforce itself computes
    values.update(ContentDocumentId=document_id, FileExtension=extension, ContentSize=len(blob),
                  FileType=_FILE_TYPES.get(extension or "", "UNKNOWN"), IsLatest=True,
                  VersionNumber=str(number), Checksum=checksum, OwnerId=actor)
    version_id = org.insert(SCHEMA["ContentVersion"], values, actor)
    org.blobs[version_id] = blob
    document = org.records["ContentDocument"][document_id]
    org.remember("ContentDocument", document_id)
    document.update(LatestPublishedVersionId=version_id, FileExtension=extension, ContentSize=len(blob),
                    FileType=values["FileType"], Title=values["Title"])
    org.touch(SCHEMA["ContentDocument"], document, actor)
    if number == 1:
        _link(org, document_id, actor, "I", actor)  # the owner's own link, as Salesforce adds one
        if values.get("FirstPublishLocationId") and values["FirstPublishLocationId"] != actor:
            _link(org, document_id, values["FirstPublishLocationId"], "V", actor)
    return version_id


def _link(org: Org, document_id: str, entity_id: str, share_type: str, actor: str) -> None:
    org.insert(SCHEMA["ContentDocumentLink"], {"ContentDocumentId": document_id, "LinkedEntityId": entity_id,
                                               "ShareType": share_type, "Visibility": "AllUsers"}, actor)


def title_follows(org: Org, name: str, record: dict) -> None:
    """A file's title lives on both the document and its latest version; keep them equal."""
    if name == "ContentVersion" and record["IsLatest"]:
        target = org.records["ContentDocument"][record["ContentDocumentId"]]
        kind = "ContentDocument"
    elif name == "ContentDocument" and record.get("LatestPublishedVersionId"):
        target = org.records["ContentVersion"][record["LatestPublishedVersionId"]]
        kind = "ContentVersion"
    else:
        return
    if target["Title"] != record["Title"]:
        org.remember(kind, target["Id"])
        target["Title"] = record["Title"]
