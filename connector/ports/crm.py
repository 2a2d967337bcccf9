"""The CRM port: what the engine needs from Salesforce, in plain dataclasses.

`adapters.salesforce` implements it over the REST API; `tests.fakes` keeps an
in-memory version for the engine's unit tests.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from connector.ports.errors import ConnectorError, ErrorKind
from connector.ports.provider import Blob, TitledFile


@dataclass(frozen=True)
class Contact:
    contact_id: str
    first_name: str | None
    last_name: str | None
    email: str | None
    mobile_phone: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class ContactRole:
    contact: Contact
    role: str | None
    is_primary: bool = False


@dataclass(frozen=True)
class FileRef:
    """A file linked to the opportunity (a ContentDocument and its latest version)."""

    document_id: str
    version_id: str
    title: str
    extension: str | None
    size: int | None = None


@dataclass(frozen=True)
class Opportunity:
    """An opportunity as one poll sees it, with everything a signing needs."""

    id: str
    name: str
    stage: str
    system_modstamp: datetime
    stage_changed_at: datetime | None = None
    owner_id: str | None = None
    owner_name: str | None = None
    owner_email: str | None = None
    account_id: str | None = None
    account_name: str | None = None
    contact_roles: tuple[ContactRole, ...] = ()
    files: tuple[FileRef, ...] = ()
    # Further fields the rules need (filters, merge fields), by SOQL path: "Amount", "Account.BillingCity",
    # "RecordType.DeveloperName". Read by the same poll query; a path absent here was not asked for.
    values: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class PollResult:
    opportunities: tuple[Opportunity, ...]
    api_calls: int = 1


@dataclass(frozen=True, init=False)
class FileUpload(TitledFile):
    """A file to attach to the opportunity as a Salesforce File (`content` is meant for files small enough
    to travel inline)."""

    @property
    def checksum(self) -> str:
        """MD5 hex, the value Salesforce stores in ContentVersion.Checksum."""
        return self.blob.md5


@dataclass(frozen=True)
class TaskEntry:
    """An activity logged on the opportunity. `subject` must be unique per job and event,
    because it is how an interrupted write is recognised afterwards."""

    subject: str
    description: str = ""


@dataclass(frozen=True)
class Writeback:
    """One group of writes to one opportunity, applied together (one API call where possible).

    Field writes are idempotent; files and tasks are checked for before a retry with
    `CRM.missing_parts`.
    """

    opportunity_id: str
    fields: Mapping[str, object] = field(default_factory=dict)
    files: tuple[FileUpload, ...] = ()
    tasks: tuple[TaskEntry, ...] = ()

    def without(self, files: Sequence[FileUpload] = (), tasks: Sequence[TaskEntry] = ()) -> Writeback:
        return replace(
            self,
            files=tuple(f for f in self.files if f not in files),
            tasks=tuple(t for t in self.tasks if t not in tasks),
        )


@dataclass(frozen=True)
class WritebackResult:
    file_version_ids: tuple[str, ...] = ()  # in the order of the writeback's files
    task_ids: tuple[str, ...] = ()


NOT_SENT = "NOT_SENT"  # CRMError.code of a write that never left: it would have been past its effect's deadline


class CRMError(ConnectorError):
    """A Salesforce failure; `kind` says whether trying again can help (transient), or whether Salesforce (or our
    own deadline) refused the call before it was processed and it should simply be made later (backpressure).
    `code` is Salesforce's error code, when it gave one."""

    def __init__(self, message: str, *, kind: ErrorKind = ErrorKind.PERMANENT, code: str | None = None,
                 retry_after: float | None = None):
        super().__init__(message, kind=kind, retry_after=retry_after)
        self.code = code

    def copied(self) -> CRMError:
        """The same failure as a new exception: one object raised in several threads would share a traceback."""
        return CRMError(self.message, kind=self.kind, code=self.code, retry_after=self.retry_after)


class CRM(ABC):
    @abstractmethod
    def poll_opportunities(
        self, stages: Sequence[str], modified_since: datetime | None, fields: Sequence[str] = ()
    ) -> PollResult:
        """Opportunities in any of `stages` with SystemModstamp >= `modified_since`, oldest
        first, each with its contact roles, owner and linked files (one query, paged), and the
        extra field paths `fields` in `Opportunity.values`."""

    @abstractmethod
    def get_opportunity(self, opportunity_id: str, fields: Sequence[str] = ()) -> Opportunity | None: ...

    def get_opportunities(self, opportunity_ids: Sequence[str], fields: Sequence[str] = ()) -> tuple[Opportunity, ...]:
        """The opportunities with these Ids that exist, read as `poll_opportunities` reads them (same fields,
        same stage-entry time), in one query where the CRM can."""
        found = (self.get_opportunity(opportunity_id, fields) for opportunity_id in dict.fromkeys(opportunity_ids))
        return tuple(opportunity for opportunity in found if opportunity is not None)

    @abstractmethod
    def download_file(self, version_id: str) -> Blob:
        """The bytes of a ContentVersion, streamed into a `Blob` (a temporary file when large)."""

    @abstractmethod
    def apply(self, writeback: Writeback) -> WritebackResult:
        """Write fields, upload files linked to the opportunity and log tasks."""

    def apply_many(self, writebacks: Sequence[Writeback]) -> list[WritebackResult | CRMError]:
        """`apply` for each writeback, in order; a CRMError comes back in the writeback's place instead of
        being raised. A CRM that can write several opportunities in one call does so (each writeback still
        all-or-none, as in `apply`)."""
        results: list[WritebackResult | CRMError] = []
        for writeback in writebacks:
            try:
                results.append(self.apply(writeback))
            except CRMError as exc:
                results.append(exc)
        return results

    @property
    def api_calls(self) -> int:
        """Calls made so far that count against the org's daily API allocation."""
        return 0

    @property
    def api_usage(self) -> tuple[int, int] | None:
        """(used, allocation) of the org's daily API allocation, as last reported; None if unknown."""
        return None

    def record_url(self, object_name: str, record_id: str) -> str | None:
        """Where a person opens this record in the org's web UI, once the org's address is known; else None."""
        return None

    def refresh_api_usage(self) -> None:  # noqa: B027 - optional: a CRM without an allocation has nothing to do
        """Make one cheap call so that `api_usage` is current."""

    def file_versions(self, opportunity_id: str, checksums: Sequence[str]) -> dict[str, str]:
        """MD5 checksum -> ContentVersion id of the files with these checksums linked to the opportunity: the ids
        of files an interrupted write attached (its reply lost). A CRM that cannot tell returns {}."""
        return {}
    def check_login(self) -> None:  # noqa: B027 - optional: a CRM without a login has nothing to check
        """Raise CRMError when the CRM refuses the connector's credentials (for /readyz; spends no API call)."""

    @abstractmethod
    def missing_parts(self, writeback: Writeback) -> Writeback:
        """The part of `writeback` not yet in Salesforce: files whose checksum is not linked to
        the opportunity, tasks whose subject is not logged on it. Fields always stay in."""
