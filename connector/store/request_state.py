"""What a job keeps about its signing request between steps (`Job.request`), stored as JSON in the jobs
table's `request_ref` column. Rows written by earlier versions, as a dict of strings, load the same way."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from connector.store.signing_record import SigningRecord


@dataclass(frozen=True)
class RequestState:
    # What was sent: the later writebacks name these titles and signers, and the signed downloads are capped
    # relative to its size (None: a job from before sizes were kept).
    titles: tuple[str, ...] = ()
    signers: tuple[str, ...] = ()
    sent_bytes: int | None = None
    embedded_signer: str | None = None  # the first embedded signer in signing order: gets the signing-URL field
    # Where the request is at its provider, once created.
    provider: str | None = None
    request_id: str | None = None
    details: Mapping[str, str] = field(default_factory=dict)
    # When the pending effect was marked: it may be on its way until the client timeout after that. None
    # once nothing of it can be on its way any more.
    effect_marked_at: datetime | None = None
    status_check_at: datetime | None = None  # the planned safety-net status check
    reminders_sent: int = 0
    declined_by: str | None = None
    record: SigningRecord = field(default_factory=SigningRecord)  # what the signing receipt reports
    completion_seen_at: datetime | None = None  # when the connector learned that the request was signed
    # An operator re-sent a job refused before sending: the send step reads the opportunity again first.
    reread_opportunity: bool = False

    def to_json(self) -> dict[str, Any] | None:
        """The column's value: only what is set, and None for nothing at all (as a new job has)."""
        data: dict[str, Any] = {
            "titles": list(self.titles) or None, "signers": list(self.signers) or None,
            "sent_bytes": self.sent_bytes, "embedded_signer": self.embedded_signer, "provider": self.provider,
            "request_id": self.request_id, "details": dict(self.details) if self.request_id else None,
            "effect_marked_at": _iso(self.effect_marked_at), "status_check_at": _iso(self.status_check_at),
            "reminders_sent": self.reminders_sent or None, "declined_by": self.declined_by,
            "record": self.record.to_json(),
            "completion_seen_at": _iso(self.completion_seen_at),
            "reread_opportunity": self.reread_opportunity or None,
        }
        kept = {key: value for key, value in data.items() if value is not None}
        return kept or None

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> RequestState:
        if not data:
            return cls()
        # 0.1 versions kept the mark of the create only, under its own name.
        marked = data.get("effect_marked_at") or data.get("create_marked_at")
        sent_bytes = data.get("sent_bytes")
        return cls(
            titles=tuple(data.get("titles") or ()), signers=tuple(data.get("signers") or ()),
            sent_bytes=int(sent_bytes) if sent_bytes is not None else None,
            embedded_signer=data.get("embedded_signer"), provider=data.get("provider"),
            request_id=data.get("request_id"), details=dict(data.get("details") or {}),
            effect_marked_at=_moment(marked), status_check_at=_moment(data.get("status_check_at")),
            reminders_sent=int(data.get("reminders_sent") or 0), declined_by=data.get("declined_by"),
            record=SigningRecord.from_json(data.get("record")),
            completion_seen_at=_moment(data.get("completion_seen_at")),
            reread_opportunity=bool(data.get("reread_opportunity")),
        )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _moment(text: str | None) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
