"""Query records to the port's dataclasses, and Python values to what the REST API expects."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum

from connector.ports.crm import Contact, ContactRole, FileRef, Opportunity


def parse_datetime(value: str | None) -> datetime | None:
    """Salesforce writes `2024-05-20T14:03:11.000+0000`; Python 3.11 reads that and the `Z` form."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def rest_value(value: object) -> object:
    """A field value as JSON the REST API accepts: date-times in UTC with milliseconds and `Z`."""
    if isinstance(value, datetime):
        utc = value.astimezone(UTC) if value.tzinfo else value
        return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return rest_value(value.value)
    if isinstance(value, Decimal):
        return float(value)
    return value


def children(record: Mapping, relationship: str) -> list[dict]:
    """A child subquery's rows; Salesforce sends null, not an empty result, when there are none."""
    nested = record.get(relationship)
    return list(nested.get("records") or ()) if isinstance(nested, Mapping) else []


def _contact_role(row: Mapping) -> ContactRole:
    contact = row.get("Contact") or {}  # null when the contact is deleted or hidden from the user
    return ContactRole(
        contact=Contact(
            contact_id=row["ContactId"], first_name=contact.get("FirstName"),
            last_name=contact.get("LastName"), email=contact.get("Email"),
            mobile_phone=contact.get("MobilePhone"), phone=contact.get("Phone"),
        ),
        role=row.get("Role"),
        is_primary=bool(row.get("IsPrimary")),
    )


def _file(row: Mapping) -> FileRef | None:
    document = row.get("ContentDocument") or {}
    version_id = document.get("LatestPublishedVersionId")
    if not version_id:  # a document without a published version has nothing to download
        return None
    size = document.get("ContentSize")
    return FileRef(document_id=row["ContentDocumentId"], version_id=version_id,
                   title=document.get("Title") or "", extension=document.get("FileExtension"),
                   size=int(size) if size is not None else None)


def field_value(record: Mapping, path: str) -> object:
    """The value at `path` ("Amount", "Account.BillingCity") in a query row; None when a parent is empty."""
    current: object = record
    for part in path.split("."):
        if not isinstance(current, Mapping):
            return None
        current = next((v for k, v in current.items() if k.lower() == part.lower()), None)
    return current


def opportunity(record: Mapping, fields: tuple[str, ...] = ()) -> Opportunity:
    owner, account = record.get("Owner") or {}, record.get("Account") or {}
    modstamp = parse_datetime(record.get("SystemModstamp"))
    if modstamp is None:
        raise ValueError(f"Opportunity {record.get('Id')} came back without SystemModstamp")
    files = (_file(row) for row in children(record, "ContentDocumentLinks"))
    return Opportunity(
        id=record["Id"],
        name=record.get("Name") or "",
        stage=record.get("StageName") or "",
        system_modstamp=modstamp,
        stage_changed_at=parse_datetime(record.get("LastStageChangeDate")),
        owner_id=record.get("OwnerId"),
        owner_name=owner.get("Name"),
        owner_email=owner.get("Email"),
        account_id=record.get("AccountId"),
        account_name=account.get("Name"),
        contact_roles=tuple(_contact_role(row) for row in children(record, "OpportunityContactRoles")),
        files=tuple(f for f in files if f is not None),
        values={path: field_value(record, path) for path in fields},
    )
