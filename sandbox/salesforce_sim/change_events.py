"""Change Data Capture events of the simulated org, encoded as the Pub/Sub API delivers them.

The schema has the real OpportunityChangeEvent's shape: a `ChangeEventHeader` record first, then every field
of the object as an optional (`["null", type]`) value. An event carries the fields that changed, and names
them in `changedFields` as a bitmap over the schema's top-level fields (bit n, from the least significant,
for field n), the form the Pub/Sub API uses.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
from datetime import UTC, datetime

import fastavro

from sandbox.salesforce_sim.schema import SCHEMA

CHANGE_TYPES = ("CREATE", "UPDATE", "DELETE", "UNDELETE", "GAP_CREATE", "GAP_UPDATE", "GAP_DELETE",
                "GAP_UNDELETE", "GAP_OVERFLOW", "SNAPSHOT")
_LEFT_OUT = {"Id", "IsDeleted", "SystemModstamp"}
_AVRO_TYPES = {"boolean": "boolean", "int": "int", "double": "double", "currency": "double", "percent": "double",
               "date": {"type": "int", "logicalType": "date"},
               "datetime": {"type": "long", "logicalType": "timestamp-millis"}}

HEADER = {
    "type": "record", "name": "ChangeEventHeader", "namespace": "com.sforce.eventbus",
    "fields": [
        {"name": "entityName", "type": "string"},
        {"name": "recordIds", "type": {"type": "array", "items": "string"}},
        {"name": "changeType", "type": {"type": "enum", "name": "ChangeType", "namespace": "com.sforce.eventbus",
                                        "symbols": list(CHANGE_TYPES)}},
        {"name": "changeOrigin", "type": "string"},
        {"name": "transactionKey", "type": "string"},
        {"name": "sequenceNumber", "type": "int"},
        {"name": "commitTimestamp", "type": "long"},
        {"name": "commitNumber", "type": "long"},
        {"name": "commitUser", "type": "string"},
        {"name": "nulledFields", "type": {"type": "array", "items": "string"}},
        {"name": "diffFields", "type": {"type": "array", "items": "string"}},
        {"name": "changedFields", "type": {"type": "array", "items": "string"}},
    ],
}


class ChangeEventType:
    """One object's change event schema: its JSON, its id (a fingerprint) and the encoder."""

    def __init__(self, entity: str):
        spec = SCHEMA[entity]
        self.entity = entity
        self.fields = [f.name for f in spec.fields.values() if f.name not in _LEFT_OUT]
        body = {"type": "record", "name": f"{entity}ChangeEvent", "namespace": "com.sforce.eventbus",
                "fields": [{"name": "ChangeEventHeader", "type": HEADER, "doc": "Data:ChangeEventHeader"}] + [
                    {"name": name, "type": ["null", _AVRO_TYPES.get(spec.fields[name].type, "string")],
                     "default": None} for name in self.fields]}
        self.schema_json = json.dumps(body, separators=(",", ":"))
        self.schema_id = base64.urlsafe_b64encode(hashlib.sha256(self.schema_json.encode()).digest()[:16]).decode()
        self._parsed = fastavro.parse_schema(body)

    def bitmap(self, changed: set[str]) -> list[str]:
        """`changedFields` as the Pub/Sub API sends it: field 0 is the header, so the object's fields count from 1."""
        bits = sum(1 << (index + 1) for index, name in enumerate(self.fields) if name in changed)
        return [f"0x{bits:X}"] if bits else []

    def encode(self, *, change_type: str, record_ids: list[str], changed: set[str], values: dict,
               commit_user: str, sequence: int) -> bytes:
        now = datetime.now(UTC)
        header = {"entityName": self.entity, "recordIds": record_ids, "changeType": change_type,
                  "changeOrigin": "com/salesforce/api/rest/59.0", "transactionKey": f"{sequence:016x}",
                  "sequenceNumber": 1, "commitTimestamp": int(now.timestamp() * 1000), "commitNumber": sequence,
                  "commitUser": commit_user, "nulledFields": [], "diffFields": [],
                  "changedFields": self.bitmap(changed)}
        record = {"ChangeEventHeader": header, **{name: values.get(name) for name in self.fields if name in changed}}
        out = io.BytesIO()
        fastavro.schemaless_writer(out, self._parsed, record)
        return out.getvalue()


def changed_fields(before: dict | None, after: dict) -> set[str]:
    if before is None:
        return {name for name, value in after.items() if value is not None}
    return {name for name in after if before.get(name) != after.get(name)}
