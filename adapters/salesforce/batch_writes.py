"""Several opportunities' writebacks in one Composite call: packing them, and reading the reply per writeback.

Each batch is sent with allOrNone: true, so that every writeback in it stays all-or-none as it is when sent
alone (a "Completed" status never lands without its Files). When one writeback is refused, Salesforce rolls
back the whole call; the refused writeback gets its own error and the others go again in the next call.
(allOrNone: false would keep the others but split a writeback; Composite Graph, atomic per graph, is not in
the reference this connector is built to.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from adapters.salesforce.errors import SalesforceProblem
from adapters.salesforce.writes import COMPOSITE_LIMIT, Subrequest, in_file_order
from connector.ports.crm import CRMError, WritebackResult
from connector.ports.errors import ErrorKind


@dataclass(frozen=True)
class BatchPart:
    """One writeback's share of a batch: its subrequests, references prefixed so that they are unique."""

    index: int  # the writeback's place in the caller's list
    opportunity_id: str
    subrequests: tuple[Subrequest, ...]
    uploaded: tuple[str, ...] = ()  # ContentVersion Ids of the files uploaded separately beforehand
    separately: tuple[bool, ...] | None = None  # for each file of the writeback, in order: uploaded on its own?

    @classmethod
    def of(cls, index: int, opportunity_id: str, subrequests: Sequence[Subrequest],
           uploaded: Sequence[str] = (), *, separately: Sequence[bool] | None = None) -> BatchPart:
        prefixed = tuple(replace(s, reference=f"w{index}_{s.reference}") for s in subrequests)
        return cls(index, opportunity_id, prefixed, tuple(uploaded),
                   tuple(separately) if separately is not None else None)

    @property
    def inline_chars(self) -> int:
        """Base64 characters of the files travelling inline: what counts against the body limit."""
        return sum(len(s.body.get("VersionData", "")) for s in self.subrequests if s.kind == "file")

    def result(self, created: dict[str, str]) -> WritebackResult:
        files = [created[s.reference] for s in self.subrequests if s.kind == "file"]
        tasks = [created[s.reference] for s in self.subrequests if s.kind == "task"]
        ids = in_file_order(self.separately, self.uploaded, files) if self.separately is not None else (
            *self.uploaded, *files)
        return WritebackResult(file_version_ids=ids, task_ids=tuple(tasks))


# Raw bytes of inline files one batched Composite call may carry, whatever the per-writeback inline size: a
# dozen completions with two 200 KB PDFs each fit, and the body (base64 in JSON) stays far below the 50 MB limit.
BATCH_INLINE_BYTES = 8 * 1024 * 1024


def inline_budget(threshold: int) -> int:
    """Base64 characters one Composite body may carry: those of `threshold` raw bytes (the multipart threshold,
    which keeps a margin below the 50 MB text limit)."""
    return 4 * -(-threshold // 3)


def pack(parts: Sequence[BatchPart], budget_chars: int) -> list[list[BatchPart]]:
    """Consecutive parts into calls of at most 25 subrequests and `budget_chars` of inline files. Two
    writebacks to one opportunity never share a call: Salesforce may reorder (collate) subrequests."""
    calls: list[list[BatchPart]] = []
    current: list[BatchPart] = []
    size = chars = 0
    for part in parts:
        crowded = size + len(part.subrequests) > COMPOSITE_LIMIT or chars + part.inline_chars > budget_chars
        if current and (crowded or any(p.opportunity_id == part.opportunity_id for p in current)):
            calls.append(current)
            current, size, chars = [], 0, 0
        current.append(part)
        size += len(part.subrequests)
        chars += part.inline_chars
    if current:
        calls.append(current)
    return calls


def payload(parts: Sequence[BatchPart]) -> dict:
    return {"allOrNone": True, "compositeRequest": [s.as_json() for p in parts for s in p.subrequests]}


@dataclass(frozen=True)
class BatchReply:
    """What an all-or-none batch call did to each part."""

    created: dict[str, str]  # reference -> Id of each created record (all of them, when nothing was refused)
    refused: dict[int, tuple[Subrequest, SalesforceProblem]]  # part index -> the subrequest that failed, and why
    halted: bool  # some subrequest failed only because another one did
    incomplete: frozenset[int]  # parts the reply says nothing about, or whose created Id it lacks

    @property
    def applied(self) -> bool:
        return not self.refused and not self.halted


def read_reply(parts: Sequence[BatchPart], reply: object) -> BatchReply:
    results = reply.get("compositeResponse") if isinstance(reply, dict) else None
    if not isinstance(results, list):
        raise CRMError("Salesforce answered a Composite call without compositeResponse", kind=ErrorKind.TRANSIENT,
                       code="UNEXPECTED_REPLY")
    by_reference = {r.get("referenceId"): r for r in results if isinstance(r, dict)}
    created: dict[str, str] = {}
    refused: dict[int, tuple[Subrequest, SalesforceProblem]] = {}
    incomplete: set[int] = set()
    halted = False
    for part in parts:
        for subrequest in part.subrequests:
            result = by_reference.get(subrequest.reference)
            if result is None:
                incomplete.add(part.index)
                continue
            status = int(result.get("httpStatusCode") or 0)
            if status >= 400:
                problem = SalesforceProblem.from_body(result.get("body"), status)
                if problem.halted_by_another:
                    halted = True
                else:
                    refused.setdefault(part.index, (subrequest, problem))
            elif subrequest.kind != "fields":
                body = result.get("body")
                if isinstance(body, dict) and body.get("id"):
                    created[subrequest.reference] = str(body["id"])
                else:
                    incomplete.add(part.index)
    return BatchReply(created, refused, halted, frozenset(incomplete))
