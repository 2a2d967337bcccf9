"""Every SOQL statement the connector sends, in one place."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

_ID = re.compile(r"^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$")

_OPPORTUNITY_FIELDS = (
    "Id, Name, StageName, SystemModstamp, LastStageChangeDate, OwnerId, Owner.Name, Owner.Email, "
    "AccountId, Account.Name, "
    "(SELECT ContactId, Role, IsPrimary, Contact.FirstName, Contact.LastName, Contact.Email, "
    "Contact.MobilePhone, Contact.Phone FROM OpportunityContactRoles ORDER BY IsPrimary DESC), "
    "(SELECT ContentDocumentId, ContentDocument.Title, ContentDocument.FileExtension, "
    "ContentDocument.LatestPublishedVersionId, ContentDocument.ContentSize FROM ContentDocumentLinks)"
)


def quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def record_id(value: str) -> str:
    if not _ID.match(value):
        raise ValueError(f"not a Salesforce record Id: {value!r}")
    return quote(value)


def datetime_literal(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def opportunities_in_stages(stages: Sequence[str], modified_since: datetime | None) -> str:
    where = f"StageName IN ({', '.join(quote(s) for s in stages)})"
    if modified_since is not None:
        where += f" AND SystemModstamp >= {datetime_literal(modified_since)}"
    return f"SELECT {_OPPORTUNITY_FIELDS} FROM Opportunity WHERE {where} ORDER BY SystemModstamp ASC, Id ASC"


def opportunity_by_id(opportunity_id: str) -> str:
    return f"SELECT {_OPPORTUNITY_FIELDS} FROM Opportunity WHERE Id = {record_id(opportunity_id)}"


def files_with_checksums(linked_to: str, checksums: Sequence[str]) -> str:
    return (f"SELECT Id, Checksum, Title FROM ContentVersion WHERE FirstPublishLocationId = {record_id(linked_to)} "
            f"AND Checksum IN ({', '.join(quote(c) for c in checksums)})")


def tasks_with_subjects(what_id: str, subjects: Sequence[str]) -> str:
    return (f"SELECT Id, Subject FROM Task WHERE WhatId = {record_id(what_id)} "
            f"AND Subject IN ({', '.join(quote(s) for s in subjects)})")
