"""Change Data Capture events as the Pub/Sub API delivers them: Avro records whose ChangeEventHeader names the
entity, the change type, the record Ids and, in bitmap form, the fields that changed.

A bitmap field (`changedFields`, `nulledFields`, `diffFields`) is a list of strings. The first, `0x…`, is a
hexadecimal bitmap over the event schema's top-level fields: bit n (counting from the least significant)
set means field n changed. Each further one, `i-0x…`, is a bitmap over the fields of compound field i
(an address, a name), reported as `Parent.Child`. A string that is not a bitmap is already a field name.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import fastavro

from connector.ports.change_feed import ChangeType, RecordChange

_BITMAP = re.compile(r"(?:(\d+)-)?0x([0-9A-Fa-f]+)")


class EventDecodeError(ValueError):
    """The event's payload does not match its schema, or its header is not a change event header."""


@dataclass(frozen=True)
class EventSchema:
    """A parsed event schema and the names its bitmaps refer to."""

    parsed: Any
    fields: tuple[str, ...]
    nested: Mapping[int, tuple[str, ...]]

    @classmethod
    def from_json(cls, schema_json: str) -> EventSchema:
        try:
            raw = json.loads(schema_json)
            parsed = fastavro.parse_schema(raw)
            fields = raw["fields"]
        except (ValueError, KeyError, TypeError, fastavro.schema.SchemaParseException) as exc:
            raise EventDecodeError(f"the event schema cannot be read: {exc}") from None
        nested = {index: tuple(f"{field['name']}.{child['name']}" for child in record["fields"])
                  for index, field in enumerate(fields) if (record := _record_type(field["type"])) is not None}
        return cls(parsed, tuple(field["name"] for field in fields), nested)

    def field_names(self, bitmaps: Iterable[str]) -> frozenset[str]:
        """The field names a bitmap field stands for."""
        names: set[str] = set()
        for entry in bitmaps:
            match = _BITMAP.fullmatch(entry)
            if match is None:
                names.add(entry)
                continue
            parent, bits = match.group(1), int(match.group(2), 16)
            pool = self.fields if parent is None else self.nested.get(int(parent))
            if pool is None:
                raise EventDecodeError(f"bitmap {entry!r} names field {parent}, which is not a compound field")
            if bits.bit_length() > len(pool):
                raise EventDecodeError(f"bitmap {entry!r} has bits past the schema's {len(pool)} fields")
            names.update(name for index, name in enumerate(pool) if bits >> index & 1)
        return frozenset(names)

    def decode(self, payload: bytes) -> RecordChange:
        try:
            record = fastavro.schemaless_reader(io.BytesIO(payload), self.parsed, None)
        except (ValueError, EOFError, IndexError, TypeError, UnicodeDecodeError, OverflowError) as exc:
            raise EventDecodeError(f"the event payload does not match its schema: {type(exc).__name__}") from None
        header = record.get("ChangeEventHeader") if isinstance(record, dict) else None
        if not isinstance(header, dict):
            raise EventDecodeError("the event has no ChangeEventHeader: not a change event")
        try:
            change_type = ChangeType(header["changeType"])
            record_ids = tuple(str(value) for value in header.get("recordIds") or ())
            entity = str(header["entityName"])
        except (KeyError, ValueError) as exc:
            raise EventDecodeError(f"the change event header cannot be read: {exc}") from None
        return RecordChange(entity=entity, change_type=change_type, record_ids=record_ids,
                            changed_fields=self.field_names(header.get("changedFields") or ()))


def _record_type(avro_type: Any) -> dict | None:
    """The record inside a field's type (`["null", {record}]` for an optional compound field), if any."""
    for candidate in avro_type if isinstance(avro_type, list) else [avro_type]:
        if isinstance(candidate, dict) and candidate.get("type") == "record":
            return candidate
    return None
