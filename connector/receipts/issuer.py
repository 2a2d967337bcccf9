"""Issuing a job's receipt: gather, seal at the chain's head, render; and the two Files that carry it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from connector.documents.selection import RECEIPT_SUFFIX
from connector.ports.crm import FileUpload
from connector.receipts.document import build_receipt
from connector.receipts.render import render_pdf
from connector.receipts.seal import ReceiptKeyError, SealKey
from connector.receipts.timeline import connector_timeline, iso
from connector.store import Job, Store
from connector.store.receipt_chain import IssuedReceipt
from mappings.models import Rule

CHAIN_KEY = "receipt_chain_key_id"
log = logging.getLogger(__name__)


class ReceiptIssuer:
    def __init__(self, store: Store, key: SealKey, clock: Callable[[], datetime], *, rotate: bool = False,
                 key_file: Path | None = None):
        self.store = store
        self.key = key
        self.clock = clock
        self._adopt_key(rotate, key_file)

    def _adopt_key(self, rotate: bool, key_file: Path | None) -> None:
        """The chain is sealed with one key: the first process records it, the others must hold the same."""
        known = self.store.get_value(CHAIN_KEY)
        if known is None or rotate:
            if known != self.key.key_id:
                self.store.set_value(CHAIN_KEY, self.key.key_id)
                if known is not None:
                    log.warning("receipts are sealed with key %s from now on (was %s)", self.key.key_id, known)
            known = self.store.get_value(CHAIN_KEY)  # two first starts at once: one key wins, the other stops
        if known != self.key.key_id:
            where = f" ({key_file})" if key_file else ""
            raise ReceiptKeyError(
                f"this process's receipt key {self.key.key_id}{where} is not the key {known} that seals the receipt "
                "chain in this database: give every replica the same CONNECTOR_RECEIPT_KEY_FILE, or set "
                "CONNECTOR_RECEIPT_KEY_ROTATE=true for one start to seal with this key from now on")

    def issued(self, job: Job) -> IssuedReceipt | None:
        return self.store.receipts.get(job.id)

    def issue(self, job: Job, rule: Rule, provider_label: str) -> IssuedReceipt:
        """The job's receipt, sealed at the chain's head now, or the one issued before (same bytes)."""
        timeline = connector_timeline(self.store, job)

        def seal(sequence: int, previous: str | None) -> bytes:
            return self.key.seal(build_receipt(job, rule, provider_label=provider_label, timeline=timeline,
                                               issued_at=iso(self.clock()) or "", sequence=sequence,
                                               previous_sha256=previous))

        return self.store.receipts.issue(job.id, seal)

    def files(self, job: Job, issued: IssuedReceipt) -> tuple[FileUpload, FileUpload] | None:
        """The JSON and the PDF to attach, the PDF rendered once and kept; None once both are attached."""
        if issued.body is None:
            return None
        pdf = issued.pdf if issued.pdf is not None else self.store.receipts.keep_pdf(job.id, render_pdf(issued.body))
        title = f"{job.request.titles[0] if job.request.titles else 'Signing'}{RECEIPT_SUFFIX}"
        stem = "".join(c if c.isalnum() or c in " -_." else "_" for c in title).strip()
        return (FileUpload(title=title, filename=f"{stem}.json", content=issued.body),
                FileUpload(title=title, filename=f"{stem}.pdf", content=pdf))
