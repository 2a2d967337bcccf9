"""What the engine notes on a job, step by step, for its signing receipt (connector.store.signing_record)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from connector.engine.planner import PlannedDocument
from connector.ports.crm import FileUpload
from connector.ports.provider import RequestStatus, SignerSpec
from connector.receipts.timeline import iso
from connector.store.signing_record import ReportedSigner, ReturnedFile, SentDocument, SentSigner
from mappings.models import Rule

# Ended signings that get a receipt besides completed ones (a request that failed at the provider does not).
RECEIPT_OUTCOMES = frozenset({"declined", "expired", "cancelled"})
_TEMPLATE = "template "


def sent_documents(planned: Sequence[PlannedDocument]) -> tuple[SentDocument, ...]:
    return tuple(SentDocument(title=d.title, size=d.size, sha256=d.sha256,
                              content_version_id=None if d.source.startswith(_TEMPLATE) else d.source,
                              template=d.source.removeprefix(_TEMPLATE) if d.source.startswith(_TEMPLATE) else None)
                 for d in planned)


def sent_signers(rule: Rule, in_order: Sequence[SignerSpec]) -> tuple[SentSigner, ...]:
    """Each signer with the role that chose it: the rule's contact roles in order, the internal signer where the
    rule puts it (build_signers orders them so)."""
    roles = [signer.role for signer in rule.signers]
    internal = rule.internal_signer
    if internal is not None:
        label = "Internal signer (opportunity owner)" if internal.owner else "Internal signer"
        roles = [label, *roles] if internal.position == "before" else [*roles, label]
    return tuple(SentSigner(order=signer.order, role=role, email=signer.email,
                            name=f"{signer.first_name} {signer.last_name}".strip(), authentication=signer.auth.value)
                 for signer, role in zip(in_order, roles, strict=False))


def reported_signers(status: RequestStatus) -> tuple[ReportedSigner, ...]:
    return tuple(ReportedSigner(email=s.email, viewed=s.viewed, signed=s.signed, declined=s.declined,
                                viewed_at=_at(s.viewed_at), signed_at=_at(s.signed_at), declined_at=_at(s.declined_at),
                                decline_reason=s.decline_reason)
                 for s in status.signers)


def returned_files(files: Sequence[FileUpload], version_ids: Mapping[str, str]) -> tuple[ReturnedFile, ...]:
    """The completed writeback's Files: the signed documents, then the evidence (writeback.outcomes' order), with
    the ContentVersion ids Salesforce gave them where known (by checksum)."""
    return tuple(ReturnedFile(kind="evidence" if index == len(files) - 1 else "signed", title=f.title, size=f.size,
                              sha256=f.blob.sha256, md5=f.checksum, content_version_id=version_ids.get(f.checksum))
                 for index, f in enumerate(files))


def _at(moment: datetime | None) -> str | None:
    return iso(moment)
