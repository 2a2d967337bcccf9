"""The simulated org's data: records, the writes the REST API allows, and their side effects."""

from __future__ import annotations

import base64
import binascii
import hashlib
import threading
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from connector.sandbox.salesforce_sim.records import IdFactory, SfError, coerce, normalise_id, object_for_id
from connector.sandbox.salesforce_sim.schema import SCHEMA, ObjectSpec

POLYMORPHIC = {"WhatId", "LinkedEntityId", "FirstPublishLocationId", "WhoId"}
CLOSED_STAGES = {"Closed Won": True, "Closed Lost": False}
MAX_BASE64_CHARS = 37_500_000 * 4 // 3  # 37.5 MB of data, as base64 text


class Org:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.ids = IdFactory()
        self.records: dict[str, dict[str, dict]] = {name: {} for name in SCHEMA}
        self.blobs: dict[str, bytes] = {}  # ContentVersion Id -> bytes
        self._last_stamp = datetime(2000, 1, 1, tzinfo=UTC)
        self.integration_user_id = ""
        self._journal: list[tuple[str, str, dict | None]] | None = None  # undo log of an all-or-none call

    # --- all-or-none ---------------------------------------------------------------------------

    @contextmanager
    def all_or_none(self, enabled: bool = True):
        """Undo every write made inside the block when `rollback()` is called (Composite allOrNone)."""
        with self.lock:
            outer, self._journal = self._journal, ([] if enabled else None)
            try:
                yield self
            finally:
                self._journal = outer

    def rollback(self) -> None:
        for name, record_id, before in reversed(self._journal or []):
            if before is None:
                self.records[name].pop(record_id, None)
                self.blobs.pop(record_id, None)
            else:
                self.records[name][record_id] = before
        self._journal = []

    def _remember(self, name: str, record_id: str, before: dict | None) -> None:
        if self._journal is not None:
            self._journal.append((name, record_id, dict(before) if before is not None else None))

    # --- reading ---------------------------------------------------------------------------

    def spec(self, name: str) -> ObjectSpec:
        spec = SCHEMA.get(name) or next((s for n, s in SCHEMA.items() if n.lower() == name.lower()), None)
        if spec is None:
            raise SfError(404, "NOT_FOUND", "The requested resource does not exist")
        return spec

    def get(self, name: str, record_id: str) -> dict | None:
        normalised = normalise_id(record_id)
        return self.records[name].get(normalised) if normalised else None

    def require(self, name: str, record_id: str) -> dict:
        if normalise_id(record_id) is None:
            raise SfError(400, "MALFORMED_ID", f"Id in URL is not valid: {record_id}")
        record = self.get(name, record_id)
        if record is None:
            raise SfError(404, "NOT_FOUND", "The requested resource does not exist")
        return record

    def find(self, record_id: str) -> tuple[str, dict] | None:
        name = object_for_id(record_id)
        record = self.get(name, record_id) if name else None
        return (name, record) if record else None

    # --- writing ---------------------------------------------------------------------------

    def _stamp(self) -> datetime:
        now = datetime.now(UTC).replace(microsecond=datetime.now(UTC).microsecond // 1000 * 1000)
        self._last_stamp = max(now, self._last_stamp + timedelta(milliseconds=1))
        return self._last_stamp

    def _check_reference(self, field: str, value: str, allowed: tuple[str, ...]) -> None:
        target = object_for_id(value)
        if field not in POLYMORPHIC and target not in allowed:
            raise SfError(400, "MALFORMED_ID", f"{field}: id value of incorrect type: {value}", [field])
        if target is None or self.get(target, value) is None:
            raise SfError(400, "INVALID_CROSS_REFERENCE_KEY", f"invalid cross reference id: {value}", [field])

    def _validated(self, spec: ObjectSpec, body: dict, *, creating: bool) -> dict:
        if not isinstance(body, dict):
            raise SfError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
        values = {}
        for key, value in body.items():
            if key == "attributes":
                continue
            field = spec.field(key)
            if field is None:
                raise SfError(400, "INVALID_FIELD", f"No such column '{key}' on sobject of type {spec.name}", [key])
            if (creating and not field.createable) or (not creating and not field.updateable):
                raise SfError(400, "INVALID_FIELD_FOR_INSERT_UPDATE",
                              f"Unable to create/update fields: {field.name}. Please check the security settings "
                              f"of this field and verify that it is read/write for your profile or permission set.",
                              [field.name])
            if field.type == "base64":
                values[field.name] = value
                continue
            coerced = coerce(field, value, spec.name)
            if field.type == "reference" and coerced is not None:
                self._check_reference(field.name, coerced, field.reference_to)
            values[field.name] = coerced
        if creating:
            missing = [f.name for f in spec.fields.values()
                       if f.required and f.createable and values.get(f.name) is None and f.default is None]
            if missing:
                raise SfError(400, "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]",
                              missing)
        return values

    def create(self, name: str, body: dict, *, blob: bytes | None = None) -> str:
        spec = self.spec(name)
        if not spec.createable:
            raise SfError(400, "INVALID_TYPE", f"sObject type '{spec.name}' does not support create")
        with self.lock:
            values = self._validated(spec, body, creating=True)
            if spec.name == "ContentVersion":
                return self._create_version(values, blob)
            return self._insert(spec, values)

    def _insert(self, spec: ObjectSpec, values: dict) -> str:
        stamp = self._stamp()
        record = {f.name: f.default for f in spec.fields.values()}
        record.update({k: v for k, v in values.items() if v is not None or k in values})
        record.update(Id=self.ids.new(spec.prefix), CreatedDate=stamp, LastModifiedDate=stamp, SystemModstamp=stamp)
        if "OwnerId" in spec.fields and not record.get("OwnerId"):
            record["OwnerId"] = self.integration_user_id or None
        self._derive(spec.name, record, stage_changed="StageName" in values)
        self._remember(spec.name, record["Id"], None)
        self.records[spec.name][record["Id"]] = record
        if spec.name == "Opportunity":
            self._history(record)
        return record["Id"]

    def update(self, name: str, record_id: str, body: dict) -> None:
        spec = self.spec(name)
        with self.lock:
            record = self.require(spec.name, record_id)
            values = self._validated(spec, body, creating=False)
            stage_changed = "StageName" in values and values["StageName"] != record.get("StageName")
            required_nulls = [k for k, v in values.items() if v is None and spec.fields[k].required]
            if required_nulls:
                raise SfError(400, "REQUIRED_FIELD_MISSING", f"Required fields are missing: {required_nulls}",
                              required_nulls)
            self._remember(spec.name, record["Id"], record)
            record.update(values)
            stamp = self._stamp()
            record.update(LastModifiedDate=stamp, SystemModstamp=stamp)
            self._derive(spec.name, record, stage_changed=stage_changed)
            if spec.name == "Opportunity" and (stage_changed or {"Amount", "CloseDate"} & set(values)):
                self._history(record)

    def delete(self, name: str, record_id: str) -> None:
        spec = self.spec(name)
        with self.lock:
            record = self.require(spec.name, record_id)
            self._remember(spec.name, record["Id"], record)
            del self.records[spec.name][record["Id"]]

    def _derive(self, name: str, record: dict, *, stage_changed: bool) -> None:
        if name == "Opportunity" and stage_changed:
            record["LastStageChangeDate"] = record["SystemModstamp"]
            record["IsClosed"] = record["StageName"] in CLOSED_STAGES
            record["IsWon"] = CLOSED_STAGES.get(record["StageName"], False)
        if name in ("Contact", "User"):
            record["Name"] = " ".join(p for p in (record.get("FirstName"), record.get("LastName")) if p)

    def _history(self, opportunity: dict) -> None:
        stamp = opportunity["SystemModstamp"]
        row = {"Id": self.ids.new("008"), "OpportunityId": opportunity["Id"], "StageName": opportunity["StageName"],
               "Amount": opportunity.get("Amount"), "CloseDate": opportunity.get("CloseDate"),
               "CreatedDate": stamp, "LastModifiedDate": stamp, "SystemModstamp": stamp, "IsDeleted": False}
        self.records["OpportunityHistory"][row["Id"]] = row

    # --- files -----------------------------------------------------------------------------

    def _create_version(self, values: dict, blob: bytes | None) -> str:
        if blob is None:
            encoded = values.get("VersionData")
            if not isinstance(encoded, str) or not encoded:
                raise SfError(400, "REQUIRED_FIELD_MISSING", "Required fields are missing: [VersionData]",
                              ["VersionData"])
            if len(encoded) > MAX_BASE64_CHARS:
                raise SfError(400, "STRING_TOO_LONG", "VersionData: base64 data over 37.5 MB; use multipart",
                              ["VersionData"])
            try:
                blob = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                raise SfError(400, "INVALID_TYPE_ON_FIELD_IN_RECORD", "VersionData: value not of required type",
                              ["VersionData"]) from None
        path = values["PathOnClient"]
        extension = path.rsplit(".", 1)[1].lower() if "." in path else ""
        values.pop("VersionData", None)
        values.setdefault("Title", path.rsplit(".", 1)[0])
        document_id = values.get("ContentDocumentId")
        version_number = 1
        if document_id:
            siblings = [v for v in self.records["ContentVersion"].values() if v["ContentDocumentId"] == document_id]
            for sibling in siblings:
                self._remember("ContentVersion", sibling["Id"], sibling)
                sibling["IsLatest"] = False
            version_number = len(siblings) + 1
        else:
            document_id = self._insert(SCHEMA["ContentDocument"], {"Title": values["Title"]})
        values.update(ContentDocumentId=document_id, FileExtension=extension, ContentSize=len(blob),
                      Checksum=hashlib.md5(blob).hexdigest(), IsLatest=True,  # noqa: S324 - Salesforce's checksum
                      VersionNumber=str(version_number))
        version_id = self._insert(SCHEMA["ContentVersion"], values)
        self.blobs[version_id] = blob
        document = self.records["ContentDocument"][document_id]
        self._remember("ContentDocument", document_id, document)
        document.update(LatestPublishedVersionId=version_id, FileExtension=extension, ContentSize=len(blob),
                        Title=values["Title"])
        linked_to = values.get("FirstPublishLocationId")
        if linked_to and version_number == 1:
            self._insert(SCHEMA["ContentDocumentLink"], {"ContentDocumentId": document_id, "LinkedEntityId": linked_to,
                                                         "ShareType": "I", "Visibility": "AllUsers"})
        return version_id
