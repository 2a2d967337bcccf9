"""What each step of a signing writes to the opportunity: fields, Files and Tasks.

Task subjects carry the provider's request id, so each is unique to one job and one event;
that is how an interrupted write is recognised (see CRM.missing_parts).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from config.settings import WritebackFields
from connector.crm import FileUpload, TaskEntry, Writeback
from connector.documents import OUTPUT_SUFFIXES, pdf_filename


class Status:
    SENT = "Sent"
    COMPLETED = "Completed"
    DECLINED = "Declined"
    EXPIRED = "Expired"
    CANCELLED = "Cancelled"
    ERROR = "Error"


class WritebackBuilder:
    def __init__(self, names: WritebackFields):
        self.names = names

    def _short(self, text: str) -> str:
        limit = self.names.last_error_max_length
        return text if len(text) <= limit else text[: limit - 1] + "…"

    def sent(self, *, opportunity_id: str, request_id: str, provider_label: str, titles: Sequence[str],
             signers: Sequence[str], sent_at: datetime) -> Writeback:
        docs = ", ".join(titles)
        return Writeback(
            opportunity_id=opportunity_id,
            fields={
                self.names.status: Status.SENT,
                self.names.request_id: request_id,
                self.names.sent_at: sent_at,
                self.names.completed_at: None,
                self.names.last_error: None,
            },
            tasks=(TaskEntry(
                subject=f"Sent for signature: {docs} ({provider_label} {request_id})"[:255],
                description="Signers, in order: " + ", ".join(signers) + f".\nProvider: {provider_label}.",
            ),),
        )

    def completed(self, *, opportunity_id: str, request_id: str, provider_label: str,
                  titles: Sequence[str], signed: Sequence[bytes], evidence: bytes,
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
                self.names.status: Status.COMPLETED,
                self.names.completed_at: completed_at,
                self.names.last_error: None,
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
        return Writeback(
            opportunity_id=opportunity_id,
            fields={self.names.status: Status.DECLINED, self.names.last_error: self._short(
                f"Declined by {who}: {why}")},
            tasks=(TaskEntry(
                subject=f"Signature declined: {', '.join(titles)} ({provider_label} {request_id})"[:255],
                description=f"Declined by {who}.\nReason: {why}",
            ),),
        )

    def ended(self, *, opportunity_id: str, request_id: str, provider_label: str, titles: Sequence[str],
              status: str, explanation: str) -> Writeback:
        """Expired or cancelled at the provider."""
        return Writeback(
            opportunity_id=opportunity_id,
            fields={self.names.status: status, self.names.last_error: self._short(explanation)},
            tasks=(TaskEntry(
                subject=f"Signature {status.lower()}: {', '.join(titles)} ({provider_label} {request_id})"[:255],
                description=explanation,
            ),),
        )

    def failed(self, *, opportunity_id: str, message: str) -> Writeback:
        return Writeback(
            opportunity_id=opportunity_id,
            fields={self.names.status: Status.ERROR, self.names.last_error: self._short(message)},
        )
