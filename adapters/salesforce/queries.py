"""Every SOQL statement the connector sends, in one place.

Values reach SOQL only through `quote()` (string literals), `record_id()` (validated Ids) and
`datetime_literal()` (unquoted UTC date-times).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

_RECORD_ID = re.compile(r"[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?")
# A field or relationship path (at most five levels, as SOQL allows); it reaches SOQL unquoted.
_FIELD_PATH = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*){0,4}")

# Escape sequences SOQL string literals understand; the backslash goes first.
_ESCAPES = (("\\", "\\\\"), ("'", "\\'"), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"))

BASE_FIELDS = ("Id", "Name", "StageName", "SystemModstamp", "LastStageChangeDate", "OwnerId", "Owner.Name",
               "Owner.Email", "AccountId", "Account.Name")
CHILD_QUERIES = (
    "(SELECT ContactId, Role, IsPrimary, Contact.FirstName, Contact.LastName, Contact.Email, "
    "Contact.MobilePhone, Contact.Phone FROM OpportunityContactRoles ORDER BY IsPrimary DESC), "
    "(SELECT ContentDocumentId, ContentDocument.Title, ContentDocument.FileExtension, "
    "ContentDocument.LatestPublishedVersionId, ContentDocument.ContentSize FROM ContentDocumentLinks)"
)

# The child relationships above whose own pages simple-salesforce leaves for the caller to fetch.
CHILD_RELATIONSHIPS = ("OpportunityContactRoles", "ContentDocumentLinks")


def is_record_id(value: str) -> bool:
    return bool(_RECORD_ID.fullmatch(value))


def quote(value: str) -> str:
    for raw, escaped in _ESCAPES:
        value = value.replace(raw, escaped)
    return f"'{value}'"


def record_id(value: str) -> str:
    if not is_record_id(value):
        raise ValueError(f"not a Salesforce record Id (15 or 18 letters and digits): {value!r}")
    return quote(value)


def datetime_literal(value: datetime) -> str:
    """An unquoted SOQL date-time in UTC; a naive datetime is taken to be UTC already."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _string_list(values: Sequence[str]) -> str:
    if not values:
        raise ValueError("an IN (...) list needs at least one value")
    return ", ".join(quote(v) for v in values)


def extra_fields(fields: Sequence[str]) -> tuple[str, ...]:
    """`fields` not already selected, each checked to be a field path, in a stable order."""
    base = {f.lower() for f in BASE_FIELDS}
    extra: dict[str, str] = {}
    for path in fields:
        if not _FIELD_PATH.fullmatch(path):
            raise ValueError(f"not a field path: {path!r}")
        if path.lower() not in base:
            extra.setdefault(path.lower(), path)
    return tuple(sorted(extra.values(), key=str.lower))


def opportunity_fields(fields: Sequence[str] = ()) -> str:
    return ", ".join((*BASE_FIELDS, *extra_fields(fields))) + ", " + CHILD_QUERIES


def opportunities_in_stages(stages: Sequence[str], modified_since: datetime | None, fields: Sequence[str] = ()) -> str:
    where = f"StageName IN ({_string_list(stages)})"
    if modified_since is not None:
        where += f" AND SystemModstamp >= {datetime_literal(modified_since)}"
    return (f"SELECT {opportunity_fields(fields)} FROM Opportunity WHERE {where} "
            "ORDER BY SystemModstamp ASC, Id ASC")


def opportunity_by_id(opportunity_id: str, fields: Sequence[str] = ()) -> str:
    return f"SELECT {opportunity_fields(fields)} FROM Opportunity WHERE Id = {record_id(opportunity_id)}"


def opportunities_by_ids(opportunity_ids: Sequence[str], fields: Sequence[str] = ()) -> str:
    ids = ", ".join(record_id(value) for value in opportunity_ids)
    if not ids:
        raise ValueError("an IN (...) list needs at least one value")
    return (f"SELECT {opportunity_fields(fields)} FROM Opportunity WHERE Id IN ({ids}) "
            "ORDER BY SystemModstamp ASC, Id ASC")


def files_with_checksums(linked_to: str, checksums: Sequence[str]) -> str:
    return (
        "SELECT Id, Checksum, Title FROM ContentVersion "
        f"WHERE FirstPublishLocationId = {record_id(linked_to)} AND Checksum IN ({_string_list(checksums)})"
    )


def tasks_with_subjects(what_id: str, subjects: Sequence[str]) -> str:
    return (
        "SELECT Id, Subject FROM Task "
        f"WHERE WhatId = {record_id(what_id)} AND Subject IN ({_string_list(subjects)})"
    )


def outbound_messages_on(entity: str) -> str:
    """Tooling API: the outbound messages set up on `entity` (an object's API name)."""
    if not entity.replace("_", "").isalnum():
        raise ValueError(f"not an object name: {entity!r}")
    return f"SELECT Id, Name, EntityDefinitionId FROM WorkflowOutboundMessage WHERE EntityDefinitionId = '{entity}'"


def outbound_message_metadata(message_id: str) -> str:
    """Tooling API: one outbound message's Metadata (endpointUrl, fields...), which is read one record a query."""
    return f"SELECT Id, Metadata FROM WorkflowOutboundMessage WHERE Id = {record_id(message_id)}"
