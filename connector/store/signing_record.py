"""What a job keeps for its signing receipt (`RequestState.record`): what was sent, what the provider reported
at the end, what came back and when it was written, as JSON inside the jobs table's `request_ref` column."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class SentDocument:
    title: str
    content_version_id: str | None  # None for a document generated from a template
    size: int
    sha256: str
    template: str | None = None  # the template's path, for a generated document


@dataclass(frozen=True)
class SentSigner:
    order: int
    role: str
    name: str
    email: str
    authentication: str


@dataclass(frozen=True)
class ReportedSigner:
    """One signer as the provider reported the ended request; times are ISO 8601 in UTC, or None."""

    email: str
    viewed: bool = False
    signed: bool = False
    declined: bool = False
    viewed_at: str | None = None
    signed_at: str | None = None
    declined_at: str | None = None
    decline_reason: str | None = None


@dataclass(frozen=True)
class ReturnedFile:
    kind: str  # "signed" or "evidence"
    title: str
    size: int
    sha256: str
    md5: str  # how Salesforce's ContentVersion.Checksum finds the File again
    content_version_id: str | None = None


@dataclass(frozen=True)
class SigningRecord:
    mapping_revision: str | None = None
    documents: tuple[SentDocument, ...] = ()
    signers: tuple[SentSigner, ...] = ()
    reported: tuple[ReportedSigner, ...] = ()
    returned: tuple[ReturnedFile, ...] = ()
    ended_at: str | None = None  # when the connector learnt the request had ended
    written_back_at: str | None = None  # when the outcome was written to the opportunity

    def to_json(self) -> dict[str, Any] | None:
        data = {key: value for key, value in asdict(self).items() if value not in (None, (), [])}
        return data or None

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> SigningRecord:
        if not data:
            return cls()
        return cls(
            mapping_revision=data.get("mapping_revision"),
            documents=_items(SentDocument, data.get("documents")),
            signers=_items(SentSigner, data.get("signers")),
            reported=_items(ReportedSigner, data.get("reported")),
            returned=_items(ReturnedFile, data.get("returned")),
            ended_at=data.get("ended_at"), written_back_at=data.get("written_back_at"),
        )

    def but(self, **changes: Any) -> SigningRecord:
        return replace(self, **changes)


def _items(kind: type, values: Any) -> tuple:
    known = {f.name for f in fields(kind)}
    return tuple(kind(**{k: v for k, v in value.items() if k in known}) for value in values or ()
                 if isinstance(value, Mapping))

