"""The CRM port over Salesforce's REST API, through `SalesforceClient`."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime

from simple_salesforce import Salesforce
from simple_salesforce.util import exception_handler

from adapters.salesforce import queries, records
from adapters.salesforce.batch_writes import BATCH_INLINE_BYTES, BatchPart, inline_budget, pack, payload, read_reply
from adapters.salesforce.client import SalesforceClient
from adapters.salesforce.errors import SalesforceProblem, to_crm_error
from adapters.salesforce.writes import (
    COMPOSITE_LIMIT,
    MULTIPART_THRESHOLD,
    Subrequest,
    composite_subrequests,
    in_file_order,
    multipart_content_version,
    split_files,
)
from connector.ports.blobs import CHUNK, DEFAULT_SPOOL_BYTES, Blob, BlobWriter
from connector.ports.crm import CRM, CRMError, FileUpload, Opportunity, PollResult, Writeback, WritebackResult
from connector.ports.errors import ErrorKind

# Record Ids per `Id IN (...)` query: about 6,500 characters of SOQL, far below its 100,000.
IDS_PER_QUERY = 300


class SalesforceCRM(CRM):
    """`field_settings` maps Opportunity field API names to the CONNECTOR_FIELD_* setting naming
    them, so that a refused field write says which setting to change."""

    def __init__(self, client: SalesforceClient, *, multipart_threshold: int = MULTIPART_THRESHOLD,
                 field_settings: Mapping[str, str] | None = None, today: Callable[[], date] = date.today,
                 spool_bytes: int = DEFAULT_SPOOL_BYTES):
        self.client = client
        self.multipart_threshold = multipart_threshold  # raw bytes of files inline per writeback
        self.batch_inline_bytes = BATCH_INLINE_BYTES  # raw bytes of files inline per batched call
        self.spool_bytes = spool_bytes  # a download larger than this goes to a temporary file
        self.field_settings = dict(field_settings or {})
        self.today = today

    @property
    def api_calls(self) -> int:
        """REST requests made so far; each counts against the org's daily API allocation."""
        return self.client.calls

    @property
    def api_usage(self) -> tuple[int, int] | None:
        return self.client.api_usage

    def record_url(self, object_name: str, record_id: str) -> str | None:
        base = self.client.instance_url
        return f"{base}/lightning/r/{object_name}/{record_id}/view" if base else None

    def refresh_api_usage(self) -> None:
        """GET /limits/: one call (it counts like any other), whose reply carries Sforce-Limit-Info."""
        self.client.call("the API usage check (GET /limits)", lambda sf: sf.limits())

    def check_login(self) -> None:
        """Log in unless a session is held already: the token endpoints do not count against the allocation."""
        self.client.check_login()

    # --- reading ---------------------------------------------------------------------------------

    def poll_opportunities(self, stages: Sequence[str], modified_since: datetime | None,
                           fields: Sequence[str] = ()) -> PollResult:
        if not stages:
            return PollResult(opportunities=(), api_calls=0)
        before = self.client.calls_in_this_thread
        rows = self._query_all(queries.opportunities_in_stages(stages, modified_since, fields),
                               "the poll query on Opportunity")
        return PollResult(opportunities=self._opportunities(rows, tuple(dict.fromkeys(fields))),
                          api_calls=self.client.calls_in_this_thread - before)

    def get_opportunity(self, opportunity_id: str, fields: Sequence[str] = ()) -> Opportunity | None:
        _require_id(opportunity_id, "Opportunity")
        rows = self._query_all(queries.opportunity_by_id(opportunity_id, fields),
                               f"reading Opportunity {opportunity_id}")
        found = self._opportunities(rows, tuple(dict.fromkeys(fields)))
        return found[0] if found else None

    def get_opportunities(self, opportunity_ids: Sequence[str], fields: Sequence[str] = ()) -> tuple[Opportunity, ...]:
        """One query (a further one per IDS_PER_QUERY Ids), oldest change first, as the poll reads them."""
        wanted = list(dict.fromkeys(opportunity_ids))
        for opportunity_id in wanted:
            _require_id(opportunity_id, "Opportunity")
        found: list[Opportunity] = []
        for start in range(0, len(wanted), IDS_PER_QUERY):
            chunk = wanted[start:start + IDS_PER_QUERY]
            rows = self._query_all(queries.opportunities_by_ids(chunk, fields),
                                   f"reading {len(chunk)} changed Opportunities")
            found += self._opportunities(rows, tuple(dict.fromkeys(fields)))
        return tuple(found)

    def download_file(self, version_id: str) -> Blob:
        """GET sobjects/ContentVersion/{id}/VersionData (the raw bytes), streamed into a Blob: the
        simple-salesforce helper would hold the whole file, and then a base64 copy of it, in memory."""
        _require_id(version_id, "ContentVersion")
        path = f"sobjects/ContentVersion/{version_id}/VersionData"
        return self.client.call(f"the download of ContentVersion {version_id}", lambda sf: self._stream(sf, path))

    def _stream(self, sf: Salesforce, path: str) -> Blob:
        with sf.session.request("GET", sf.base_url + path, headers=sf.headers, stream=True) as reply:
            if reply.status_code >= 300:
                exception_handler(reply, name=path)  # raises simple-salesforce's error for the status
            return BlobWriter(spool_bytes=self.spool_bytes).write_all(reply.iter_content(CHUNK))

    def _query_all(self, soql: str, what: str) -> list[dict]:
        page = self.client.call(what, lambda sf: sf.query(soql))
        rows = list(page.get("records") or ())
        while not page.get("done", True) and page.get("nextRecordsUrl"):
            page = self._next_page(page["nextRecordsUrl"], what)
            rows.extend(page.get("records") or ())
        for row in rows:
            for relationship in queries.CHILD_RELATIONSHIPS:
                self._complete_children(row.get(relationship), what)
        return rows

    def _complete_children(self, nested: dict | None, what: str) -> None:
        # simple-salesforce leaves a child subquery's further pages to the caller.
        while isinstance(nested, dict) and not nested.get("done", True) and nested.get("nextRecordsUrl"):
            page = self._next_page(nested["nextRecordsUrl"], what)
            nested["records"] = [*(nested.get("records") or ()), *(page.get("records") or ())]
            nested["done"] = page.get("done", True)
            nested["nextRecordsUrl"] = page.get("nextRecordsUrl")

    def _next_page(self, url: str, what: str) -> dict:
        return self.client.call(what, lambda sf: sf.query_more(url, identifier_is_url=True))

    @staticmethod
    def _opportunities(rows: list[dict], fields: tuple[str, ...] = ()) -> tuple[Opportunity, ...]:
        try:
            return tuple(records.opportunity(row, fields) for row in rows)
        except (KeyError, TypeError, ValueError) as exc:
            raise CRMError(f"Salesforce returned an Opportunity the connector cannot read: {exc}",
                           kind=ErrorKind.TRANSIENT, code="UNEXPECTED_REPLY") from None

    # --- writing ---------------------------------------------------------------------------------

    def apply(self, writeback: Writeback) -> WritebackResult:
        """Files too big to travel inline go first, one multipart upload each; the rest is one
        all-or-none Composite call (more only past 25 parts; `missing_parts` makes a retry safe)."""
        opp = writeback.opportunity_id
        _require_id(opp, "Opportunity")
        inline, separate = split_files(writeback.files, self.multipart_threshold)
        separate_ids = [self._upload_separately(opp, upload) for upload in separate]
        subrequests = composite_subrequests(writeback, inline, self.client.api_version, self.today())
        created: dict[str, str] = {}
        for start in range(0, len(subrequests), COMPOSITE_LIMIT):
            created.update(self._composite(opp, subrequests[start:start + COMPOSITE_LIMIT]))
        inline_ids = [created[s.reference] for s in subrequests if s.kind == "file"]
        version_ids = in_file_order(_separately(writeback.files, separate), separate_ids, inline_ids)
        task_ids = [created[s.reference] for s in subrequests if s.kind == "task"]
        return WritebackResult(file_version_ids=tuple(version_ids), task_ids=tuple(task_ids))

    def _composite(self, opportunity_id: str, chunk: list[Subrequest]) -> dict[str, str]:
        payload = {"allOrNone": True, "compositeRequest": [s.as_json() for s in chunk]}
        # Checked inside the call, so that a rolled-back row lock is repeated like any other.
        return self.client.call(
            f"the writeback to Opportunity {opportunity_id}",
            lambda sf: self._created_ids(chunk, sf.restful("composite", method="POST", json=payload)),
            idempotent=False)

    def _created_ids(self, chunk: list[Subrequest], reply: object) -> dict[str, str]:
        results = reply.get("compositeResponse") if isinstance(reply, dict) else None
        if not isinstance(results, list):
            raise CRMError("Salesforce answered a Composite call without compositeResponse", kind=ErrorKind.TRANSIENT,
                           code="UNEXPECTED_REPLY")
        by_reference = {r.get("referenceId"): r for r in results if isinstance(r, dict)}
        failures: list[tuple[Subrequest, SalesforceProblem]] = []
        for subrequest in chunk:
            result = by_reference.get(subrequest.reference)
            if result is None:
                raise CRMError(f"Salesforce's Composite reply says nothing about {subrequest.what}",
                               kind=ErrorKind.TRANSIENT, code="UNEXPECTED_REPLY")
            status = int(result.get("httpStatusCode") or 0)
            if status >= 400:
                failures.append((subrequest, SalesforceProblem.from_body(result.get("body"), status)))
        if failures:
            # With allOrNone, every other subrequest reports PROCESSING_HALTED; name the real cause.
            subrequest, problem = next((f for f in failures if not f[1].halted_by_another), failures[0])
            raise to_crm_error(problem, subrequest.what, self.field_settings)
        try:
            return {s.reference: str(by_reference[s.reference]["body"]["id"])
                    for s in chunk if s.kind != "fields"}
        except (KeyError, TypeError):
            raise CRMError("Salesforce's Composite reply lacks the Id of a created record", kind=ErrorKind.TRANSIENT,
                           code="UNEXPECTED_REPLY") from None

    def _upload_separately(self, opportunity_id: str, upload: FileUpload) -> str:
        # Streamed from the file's blob: the body is produced piece by piece, afresh on each attempt.
        body, content_type = multipart_content_version(opportunity_id, upload)
        reply = self.client.call(
            f"the upload of {upload.title!r} to Opportunity {opportunity_id}",
            lambda sf: sf.restful("sobjects/ContentVersion", method="POST", data=body,
                                  headers={"Content-Type": content_type}),
            idempotent=False)
        if not isinstance(reply, dict) or "id" not in reply:
            raise CRMError(f"Salesforce: the upload of {upload.title!r} to Opportunity {opportunity_id} answered "
                           "without a ContentVersion id", code="UNEXPECTED_REPLY")
        return str(reply["id"])

    def file_versions(self, opportunity_id: str, checksums: Sequence[str]) -> dict[str, str]:
        _require_id(opportunity_id, "Opportunity")
        if not checksums:
            return {}
        soql = queries.files_with_checksums(opportunity_id, list(dict.fromkeys(checksums)))
        rows = self._query_all(soql, f"the check for files on {opportunity_id}")
        return {str(row["Checksum"]): str(row["Id"]) for row in rows if row.get("Checksum") and row.get("Id")}

    def missing_parts(self, writeback: Writeback) -> Writeback:
        opp = writeback.opportunity_id
        _require_id(opp, "Opportunity")
        present_files: list[FileUpload] = []
        if writeback.files:
            soql = queries.files_with_checksums(opp, list(dict.fromkeys(f.checksum for f in writeback.files)))
            found = {row.get("Checksum") for row in self._query_all(soql, f"the check for files on {opp}")}
            present_files = [f for f in writeback.files if f.checksum in found]
        present_tasks = []
        if writeback.tasks:
            soql = queries.tasks_with_subjects(opp, list(dict.fromkeys(t.subject for t in writeback.tasks)))
            found = {row.get("Subject") for row in self._query_all(soql, f"the check for tasks on {opp}")}
            present_tasks = [t for t in writeback.tasks if t.subject in found]
        return writeback.without(files=present_files, tasks=present_tasks)

    # --- writing to several opportunities at once (for connector.writeback.batcher) --------------

    def apply_many(self, writebacks: Sequence[Writeback]) -> list[WritebackResult | CRMError]:
        """Writebacks to several opportunities in as few Composite calls as fit; each stays all-or-none and gets
        its own result or error (see adapters.salesforce.batch_writes). Files too big to travel inline go
        first, one multipart upload each, as in `apply`."""
        outcomes: dict[int, WritebackResult | CRMError] = {}
        parts: list[BatchPart] = []
        for index, writeback in enumerate(writebacks):
            try:
                part = self._batch_part(index, writeback)
                if part is None:
                    outcomes[index] = self.apply(writeback)  # more than one Composite call's worth
                elif not part.subrequests:
                    outcomes[index] = part.result({})
                else:
                    parts.append(part)
            except CRMError as exc:
                outcomes[index] = exc
        for call in pack(parts, inline_budget(max(self.multipart_threshold, self.batch_inline_bytes))):
            outcomes.update(self._send_batch(call))
        return [outcomes[index] for index in range(len(writebacks))]

    def _batch_part(self, index: int, writeback: Writeback) -> BatchPart | None:
        opp = writeback.opportunity_id
        _require_id(opp, "Opportunity")
        inline, separate = split_files(writeback.files, self.multipart_threshold)
        subrequests = composite_subrequests(writeback, inline, self.client.api_version, self.today())
        if len(subrequests) > COMPOSITE_LIMIT:
            return None
        uploaded = [self._upload_separately(opp, upload) for upload in separate]
        return BatchPart.of(index, opp, subrequests, uploaded, separately=_separately(writeback.files, separate))

    def _send_batch(self, parts: list[BatchPart]) -> dict[int, WritebackResult | CRMError]:
        """One all-or-none call for `parts`; a refused part gets its error and the rest go again. A part that
        failed on a row lock, or when the reply names no cause, goes alone through `apply`'s own call."""
        outcomes: dict[int, WritebackResult | CRMError] = {}
        alone: list[BatchPart] = []
        while len(parts) > 1:
            what = f"the writeback to Opportunity {parts[0].opportunity_id} and {len(parts) - 1} other(s)"
            try:
                reply = read_reply(parts, self._post_composite(what, payload(parts)))
            except CRMError as exc:
                outcomes.update({p.index: exc.copied() for p in parts})
                parts = []
                break
            if reply.applied:
                outcomes.update({p.index: _lacks_an_id(what) if p.index in reply.incomplete
                                 else p.result(reply.created) for p in parts})
                parts = []
                break
            if not reply.refused:
                alone += parts
                parts = []
                break
            for part in parts:
                if part.index in reply.refused:
                    subrequest, problem = reply.refused[part.index]
                    if problem.repeat_at_once:
                        alone.append(part)
                    else:
                        outcomes[part.index] = to_crm_error(problem, subrequest.what, self.field_settings)
            parts = [p for p in parts if p.index not in reply.refused]
        for part in alone + parts:
            try:
                outcomes[part.index] = part.result(self._composite(part.opportunity_id, list(part.subrequests)))
            except CRMError as exc:
                outcomes[part.index] = exc
        return outcomes

    def _post_composite(self, what: str, body: dict) -> object:
        return self.client.call(what, lambda sf: sf.restful("composite", method="POST", json=body),
                                idempotent=False)


def _require_id(value: str, sobject: str) -> None:
    if not queries.is_record_id(value):
        raise CRMError(f"{value!r} is not a Salesforce {sobject} Id (15 or 18 letters and digits)",
                       code="MALFORMED_ID")


def _lacks_an_id(what: str) -> CRMError:
    return CRMError(f"Salesforce's Composite reply to {what} lacks the Id of a created record",
                    kind=ErrorKind.TRANSIENT, code="UNEXPECTED_REPLY")


def _separately(files: Sequence[FileUpload], separate: Sequence[FileUpload]) -> tuple[bool, ...]:
    uploaded_alone = {id(upload) for upload in separate}
    return tuple(id(upload) in uploaded_alone for upload in files)
