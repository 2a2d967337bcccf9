"""What the chaos and failover tests check of the signing receipts: one per ended signing, one unbroken chain."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from connector.receipts.verify import verify_receipt

RECEIPT = " - receipt"


def receipts_on(salesforce, opportunity_id: str) -> list[bytes]:
    return [f["content"] for f in salesforce.files_on(opportunity_id)
            if f["title"].endswith(RECEIPT) and f["filename"].endswith(".json")]


def ended_with_receipt(salesforce, status: str = "Completed") -> int:
    """Opportunities whose signing ended with `status` and whose receipt is attached: the run's end."""
    return sum(1 for o in salesforce.records("Opportunity")
               if o["Signing_Status__c"] == status and receipts_on(salesforce, o["Id"]))


def chain_problems(salesforce, opportunities: Iterable[str]) -> list[str]:
    """One receipt JSON and one PDF per opportunity (one signing each), numbered 1..N without a gap, each naming
    the hash of the one before and sealed; what is wrong, if anything."""
    problems: list[str] = []
    by_sequence: dict[int, bytes] = {}
    for opportunity_id in opportunities:
        files = [f for f in salesforce.files_on(opportunity_id) if f["title"].endswith(RECEIPT)]
        kinds = sorted(f["filename"].rsplit(".", 1)[-1] for f in files)
        if kinds != ["json", "pdf"]:
            problems.append(f"{opportunity_id}: receipt Files {kinds}, not one JSON and one PDF")
        for body in receipts_on(salesforce, opportunity_id):
            sequence = json.loads(body)["sequence"]
            if sequence in by_sequence:
                problems.append(f"receipt {sequence} attached twice")
            by_sequence[sequence] = body
    if sorted(by_sequence) != list(range(1, len(by_sequence) + 1)):
        problems.append(f"receipts numbered with gaps: {sorted(set(range(1, max(by_sequence, default=0) + 1)) - set(by_sequence))} missing")
    previous = None
    for sequence in sorted(by_sequence):
        body = by_sequence[sequence]
        if not all(check.ok for check in verify_receipt(body)):
            problems.append(f"receipt {sequence}: seal broken")
        if json.loads(body)["previous_receipt_sha256"] != previous:
            problems.append(f"receipt {sequence} does not follow receipt {sequence - 1}")
        previous = hashlib.sha256(body).hexdigest()
    return problems
