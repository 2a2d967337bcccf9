"""The CRM port over Salesforce's REST API."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import date, datetime

import urllib3

from connector.crm import (
    CRM,
    Contact,
    ContactRole,
    CRMError,
    FileRef,
    FileUpload,
    Opportunity,
    PollResult,
    Writeback,
    WritebackResult,
)
from connector.salesforce import queries
from connector.salesforce.client import SalesforceClient

MULTIPART_THRESHOLD = 30 * 1024 * 1024  # JSON bodies carry at most 37.5 MB of base64; stay well below


def _datetime(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z")


def _sf_value(value: object) -> object:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    if isinstance(value, date):
        return value.isoformat()
    return value


def _children(record: dict, relationship: str) -> list[dict]:
    nested = record.get(relationship)
    return list(nested["records"]) if nested else []


def _opportunity(record: dict) -> Opportunity:
    roles = []
    for row in _children(record, "OpportunityContactRoles"):
        contact = row.get("Contact") or {}
        roles.append(ContactRole(
            contact=Contact(row["ContactId"], contact.get("FirstName"), contact.get("LastName"), contact.get("Email"),
                            contact.get("MobilePhone"), contact.get("Phone")),
            role=row.get("Role"), is_primary=bool(row.get("IsPrimary"))))
    files = []
    for row in _children(record, "ContentDocumentLinks"):
        document = row.get("ContentDocument") or {}
        if document.get("LatestPublishedVersionId"):
            files.append(FileRef(row["ContentDocumentId"], document["LatestPublishedVersionId"],
                                 document.get("Title") or "", document.get("FileExtension"),
                                 document.get("ContentSize")))
    owner, account = record.get("Owner") or {}, record.get("Account") or {}
    return Opportunity(
        id=record["Id"], name=record["Name"], stage=record["StageName"],
        system_modstamp=_datetime(record["SystemModstamp"]),
        stage_changed_at=_datetime(record.get("LastStageChangeDate")),
        owner_id=record.get("OwnerId"), owner_name=owner.get("Name"), owner_email=owner.get("Email"),
        account_id=record.get("AccountId"), account_name=account.get("Name"),
        contact_roles=tuple(roles), files=tuple(files),
    )


class SalesforceCRM(CRM):
    def __init__(self, client: SalesforceClient, *, multipart_threshold: int = MULTIPART_THRESHOLD):
        self.client = client
        self.version = client.api_version
        self.multipart_threshold = multipart_threshold

    @property
    def api_calls(self) -> int:
        return self.client.calls

    # --- reading ---------------------------------------------------------------------------

    def _query_all(self, soql: str, what: str) -> list[dict]:
        page = self.client.call(what, lambda sf: sf.query(soql))
        records = list(page["records"])
        while not page.get("done", True):
            url = page["nextRecordsUrl"]
            page = self.client.call(what, lambda sf, url=url: sf.query_more(url, identifier_is_url=True))
            records.extend(page["records"])
        for record in records:
            for relationship in ("OpportunityContactRoles", "ContentDocumentLinks"):
                self._complete_children(record.get(relationship), what)
        return records

    def _complete_children(self, nested: dict | None, what: str) -> None:
        # simple-salesforce does not follow a child subquery's own nextRecordsUrl.
        while nested and not nested.get("done", True):
            url = nested.pop("nextRecordsUrl")
            more = self.client.call(what, lambda sf, url=url: sf.query_more(url, identifier_is_url=True))
            nested["records"].extend(more["records"])
            nested["done"] = more.get("done", True)
            if not nested["done"]:
                nested["nextRecordsUrl"] = more["nextRecordsUrl"]

    def poll_opportunities(self, stages: Sequence[str], modified_since: datetime | None) -> PollResult:
        before = self.client.calls
        soql = queries.opportunities_in_stages(stages, modified_since)
        records = self._query_all(soql, "the poll query on Opportunity")
        return PollResult(opportunities=tuple(_opportunity(r) for r in records), api_calls=self.client.calls - before)

    def get_opportunity(self, opportunity_id: str) -> Opportunity | None:
        records = self._query_all(queries.opportunity_by_id(opportunity_id), f"reading Opportunity {opportunity_id}")
        return _opportunity(records[0]) if records else None

    def download_file(self, version_id: str) -> bytes:
        return self.client.call(f"the download of ContentVersion {version_id}",
                                lambda sf: sf.ContentVersion.get_base64(version_id, base64_field="VersionData"))

    # --- writing ---------------------------------------------------------------------------

    def apply(self, writeback: Writeback) -> WritebackResult:
        large = [f for f in writeback.files if len(f.content) > self.multipart_threshold]
        version_ids = [self._upload_multipart(writeback.opportunity_id, f) for f in large]
        subrequests, kinds = self._subrequests(writeback, [f for f in writeback.files if f not in large])
        if not subrequests:
            return WritebackResult(file_version_ids=tuple(version_ids))
        what = f"the update of Opportunity {writeback.opportunity_id}"
        response = self.client.call(what, lambda sf: sf.restful(
            "composite", method="POST", json={"allOrNone": True, "compositeRequest": subrequests}), idempotent=False)
        results = response["compositeResponse"]
        failures = [r for r in results if r["httpStatusCode"] >= 400
                    and not (isinstance(r["body"], list) and r["body"][0].get("errorCode") == "PROCESSING_HALTED")]
        if failures:
            raise self._composite_error(writeback.opportunity_id, failures[0])
        task_ids = [r["body"]["id"] for r, kind in zip(results, kinds, strict=True) if kind == "task"]
        version_ids += [r["body"]["id"] for r, kind in zip(results, kinds, strict=True) if kind == "file"]
        return WritebackResult(file_version_ids=tuple(version_ids), task_ids=tuple(task_ids))

    def _subrequests(self, writeback: Writeback, files: list[FileUpload]) -> tuple[list[dict], list[str]]:
        base = f"/services/data/v{self.version}/sobjects"
        subrequests, kinds = [], []
        for index, upload in enumerate(files):
            subrequests.append({"method": "POST", "url": f"{base}/ContentVersion", "referenceId": f"file{index}",
                                "body": {"Title": upload.title, "PathOnClient": upload.filename,
                                         "FirstPublishLocationId": writeback.opportunity_id,
                                         "VersionData": base64.b64encode(upload.content).decode("ascii")}})
            kinds.append("file")
        if writeback.fields:
            subrequests.append({"method": "PATCH", "url": f"{base}/Opportunity/{writeback.opportunity_id}",
                                "referenceId": "opportunity",
                                "body": {k: _sf_value(v) for k, v in writeback.fields.items()}})
            kinds.append("fields")
        for index, task in enumerate(writeback.tasks):
            subrequests.append({"method": "POST", "url": f"{base}/Task", "referenceId": f"task{index}",
                                "body": {"WhatId": writeback.opportunity_id, "Subject": task.subject,
                                         "Description": task.description, "Status": "Completed",
                                         "Priority": "Normal", "ActivityDate": date.today().isoformat()}})
            kinds.append("task")
        return subrequests, kinds

    def _composite_error(self, opportunity_id: str, failure: dict) -> CRMError:
        body = failure["body"]
        first = body[0] if isinstance(body, list) and body else {}
        code, message, fields = first.get("errorCode", "UNKNOWN"), first.get("message", ""), first.get("fields") or []
        target = {"opportunity": f"the update of Opportunity {opportunity_id}"}.get(
            failure["referenceId"], f"{failure['referenceId']} on Opportunity {opportunity_id}")
        hint = ""
        if code in ("INVALID_FIELD", "INVALID_FIELD_FOR_INSERT_UPDATE") and fields:
            hint = (f" — create the field(s) {', '.join(fields)} on Opportunity with edit access for the integration "
                    "user, or set CONNECTOR_FIELD_* to existing fields")
        retriable = code == "UNABLE_TO_LOCK_ROW" or failure["httpStatusCode"] >= 500
        return CRMError(f"Salesforce refused {target}: {code}: {message}{hint}", retriable=retriable, code=code)

    def _upload_multipart(self, opportunity_id: str, upload: FileUpload) -> str:
        entity = json.dumps({"Title": upload.title, "PathOnClient": upload.filename,
                             "FirstPublishLocationId": opportunity_id})
        body, content_type = urllib3.encode_multipart_formdata([
            ("entity_content", ("", entity, "application/json")),
            ("VersionData", (upload.filename, upload.content, "application/pdf")),
        ])
        result = self.client.call(
            f"the upload of {upload.title!r} to Opportunity {opportunity_id}",
            lambda sf: sf.restful("sobjects/ContentVersion", method="POST", data=body,
                                  headers={"Content-Type": content_type}), idempotent=False)
        return result["id"]

    def missing_parts(self, writeback: Writeback) -> Writeback:
        present_files, present_tasks = [], []
        if writeback.files:
            soql = queries.files_with_checksums(writeback.opportunity_id, [f.checksum for f in writeback.files])
            found = {r["Checksum"] for r in self._query_all(soql, "the check for files already attached")}
            present_files = [f for f in writeback.files if f.checksum in found]
        if writeback.tasks:
            soql = queries.tasks_with_subjects(writeback.opportunity_id, [t.subject for t in writeback.tasks])
            found = {r["Subject"] for r in self._query_all(soql, "the check for tasks already logged")}
            present_tasks = [t for t in writeback.tasks if t.subject in found]
        return writeback.without(files=present_files, tasks=present_tasks)
