"""What each step of a signing writes to the opportunity: fields, Files and Tasks.

Task subjects carry the provider's request id, so each is unique to one job and one event;
that is how an interrupted write is recognised (see CRM.missing_parts).

Field names come from the rule's `writeback:` block, falling back to the CONNECTOR_FIELD_*
settings (`for_rule`); a name set to null is not written. A `move_to_stage_on` stage goes into
the same field update as the status, so it costs no extra API call.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from config.settings import WritebackFields
from connector.documents.selection import OUTPUT_SUFFIXES, pdf_filename
from connector.ports.crm import FileUpload, TaskEntry, Writeback
from connector.ports.provider import Blob
from mappings.models import Rule
from mappings.writeback import RuleWriteback, StageMoves

STAGE_FIELD = "StageName"


class Status:
    SENT = "Sent"
    COMPLETED = "Completed"
    DECLINED = "Declined"
    EXPIRED = "Expired"
    CANCELLED = "Cancelled"
    ERROR = "Error"


class WritebackBuilder:
    def __init__(self, names: WritebackFields, *, rule_writeback: RuleWriteback | None = None,
                 moves: StageMoves | None = None):
        self.names = names
        self.field_names = (rule_writeback or RuleWriteback()).resolve(names.model_dump())
        self.moves = (moves or StageMoves()).targets()

    def for_rule(self, rule: Rule) -> WritebackBuilder:
        """The builder for one rule (as snapshotted on its job): its field names and stage moves."""
        return WritebackBuilder(self.names, rule_writeback=rule.writeback, moves=rule.move_to_stage_on)

    def _short(self, text: str) -> str:
        limit = self.names.last_error_max_length
        return text if len(text) <= limit else text[: limit - 1] + "…"

    def _fields(self, values: dict[str, object], *, outcome: str | None = None) -> dict[str, object]:
        """API name -> value for the keys that have a field; later keys win when two share a name."""
        fields: dict[str, object] = {}
        for key, value in values.items():
            name = self.field_names.get(key)
            if name:
                fields[name] = value
        if outcome and outcome in self.moves:
            fields[STAGE_FIELD] = self.moves[outcome]
        return fields

    def _ended_fields(self, status: str, *, last_error: str | None, outcome: str | None,
                      decline_reason: str | None = None) -> dict[str, object]:
        # A finished request's signing link is dead: clear it rather than leave it on the record.
        values: dict[str, object] = {"status": status, "signing_url": None, "last_error": last_error}
        if decline_reason is not None:
            values["decline_reason"] = decline_reason
        return self._fields(values, outcome=outcome)

    def sent(self, *, opportunity_id: str, request_id: str, provider_label: str, titles: Sequence[str],
             signers: Sequence[str], sent_at: datetime, signing_url: str | None = None,
             problem: str | None = None) -> Writeback:
        docs = ", ".join(titles)
        return Writeback(
            opportunity_id=opportunity_id,
            fields=self._fields({
                "status": Status.SENT,
                "request_id": request_id,
                "sent_at": sent_at,
                "completed_at": None,
                "decline_reason": None,
                "signing_url": signing_url,
                "last_error": self._short(problem) if problem else None,
            }),
            tasks=(TaskEntry(
                subject=f"Sent for signature: {docs} ({provider_label} {request_id})"[:255],
                description="Signers, in order: " + ", ".join(signers) + f".\nProvider: {provider_label}.",
            ),),
        )

    def completed(self, *, opportunity_id: str, request_id: str, provider_label: str,
                  titles: Sequence[str], signed: Sequence[bytes | Blob], evidence: bytes | Blob,
                  completed_at: datetime) -> Writeback:
        signed_suffix, evidence_suffix = OUTPUT_SUFFIXES
        files = [
            FileUpload(title=f"{title}{signed_suffix}", filename=pdf_filename(f"{title}{signed_suffix}"),
                       content=content)
            for title, content in zip(titles, signed, strict=True)
        ]
        evidence_title = f"{titles[0]}{evidence_suffix}"
        files.append(FileUpload(title=evidence_title, filename=pdf_filename(evidence_title), content=evidence))
        return Writeback(
            opportunity_id=opportunity_id,
            fields={
                **self._ended_fields(Status.COMPLETED, last_error=None, outcome="completed"),
                **self._fields({"completed_at": completed_at}),
            },
            files=tuple(files),
            tasks=(TaskEntry(
                subject=f"Signed: {', '.join(titles)} ({provider_label} {request_id})"[:255],
                description="All signers have signed. Attached: " + ", ".join(f.title for f in files) + ".",
            ),),
        )

    def declined(self, *, opportunity_id: str, request_id: str, provider_label: str, titles: Sequence[str],
                 declined_by: str | None, reason: str | None) -> Writeback:
        who = declined_by or "a signer"
        why = reason or f"{provider_label} did not report a reason"
        text = self._short(f"Declined by {who}: {why}")
        own_field = bool(self.field_names.get("decline_reason"))
        return Writeback(
            opportunity_id=opportunity_id,
            fields=self._ended_fields(Status.DECLINED, last_error=None if own_field else text, outcome="declined",
                                      decline_reason=text if own_field else None),
            tasks=(TaskEntry(
                subject=f"Signature declined: {', '.join(titles)} ({provider_label} {request_id})"[:255],
                description=f"Declined by {who}.\nReason: {why}",
            ),),
        )

    def ended(self, *, opportunity_id: str, request_id: str, provider_label: str, titles: Sequence[str],
              status: str, explanation: str, move_stage: bool = True) -> Writeback:
        """Expired, cancelled or failed at the provider. `move_stage` False keeps the stage as it is."""
        outcome = {Status.EXPIRED: "expired", Status.CANCELLED: "cancelled"}.get(status) if move_stage else None
        return Writeback(
            opportunity_id=opportunity_id,
            fields=self._ended_fields(status, last_error=self._short(explanation), outcome=outcome),
            tasks=(TaskEntry(
                subject=f"Signature {status.lower()}: {', '.join(titles)} ({provider_label} {request_id})"[:255],
                description=explanation,
            ),),
        )

    def failed(self, *, opportunity_id: str, message: str) -> Writeback:
        return Writeback(
            opportunity_id=opportunity_id,
            fields=self._fields({"status": Status.ERROR, "last_error": self._short(message)}),
        )
