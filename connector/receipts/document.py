"""The receipt's content, version 1 (connector/receipts/receipt.schema.json): what a job kept, as one document.

Pure: the engine hands in the job, its rule and the timeline; sealing and chaining are the caller's.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from connector.receipts.seal import canonical
from connector.receipts.timeline import iso
from connector.store import Job
from mappings.models import Rule

FORMAT = "esign-connector-receipt"
VERSION = 1
SCHEMA_ID = "urn:esign-connector:receipt:v1"  # the $id of connector/receipts/receipt.schema.json


def build_receipt(job: Job, rule: Rule, *, provider_label: str, timeline: list[dict[str, Any]], issued_at: str,
                  sequence: int, previous_sha256: str | None) -> dict[str, Any]:
    record = job.request.record
    opportunity = job.opportunity
    reported = {signer.email.lower(): signer for signer in record.reported}
    signers = []
    for sent in record.signers:
        seen = reported.get(sent.email.lower())
        signers.append({
            "order": sent.order, "role": sent.role, "name": sent.name, "email": sent.email,
            "authentication": sent.authentication,
            "viewed": bool(seen and (seen.viewed or seen.signed)), "viewed_at": seen.viewed_at if seen else None,
            "signed": bool(seen and seen.signed), "signed_at": seen.signed_at if seen else None,
            "declined": bool(seen and seen.declined), "declined_at": seen.declined_at if seen else None,
            "decline_reason": seen.decline_reason if seen else None,
        })
    return {
        "$schema": SCHEMA_ID,
        "format": FORMAT,
        "version": VERSION,
        "sequence": sequence,
        "previous_receipt_sha256": previous_sha256,
        "issued_at": issued_at,
        "job_id": job.id,
        "outcome": job.outcome or "completed",
        "decline_reason": job.decline_reason,
        "declined_by": job.request.declined_by,
        "opportunity": {"id": job.opportunity_id, "name": opportunity.get("name"), "stage": opportunity.get("stage"),
                        "stage_entered_at": _moment(opportunity.get("stage_changed_at"))},
        "rule": {"id": rule.id, "mapping_file_sha256": record.mapping_revision,
                 "rule_sha256": hashlib.sha256(canonical(job.rule)).hexdigest()},
        "provider": {"name": job.provider, "label": provider_label, "request_id": job.request_id},
        "documents_sent": [{"title": d.title, "content_version_id": d.content_version_id, "template": d.template,
                            "bytes": d.size, "sha256": d.sha256} for d in record.documents],
        "files_returned": [{"kind": f.kind, "title": f.title, "bytes": f.size, "sha256": f.sha256,
                            "content_version_id": f.content_version_id} for f in record.returned],
        "signers": signers,
        "timeline": timeline,
    }


def _moment(text: object) -> str | None:
    if not isinstance(text, str) or not text:
        return None
    return iso(datetime.fromisoformat(text))
