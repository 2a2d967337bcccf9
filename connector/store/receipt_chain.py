"""The chain of signing receipts in the state database: each receipt names the hash of the one issued before it.

One row holds the chain's head. Issuing a receipt reads and moves it in the same transaction as the receipt's
insert: PostgreSQL replicas take the row in turn (SELECT ... FOR UPDATE), SQLite has one writer at a time, and
the unique sequence and previous hash refuse a fork should two issuers ever read the same head. A job's receipt
is issued once: asked again (after a crash, say), the chain hands back the one it holds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connector.store.models import ReceiptChainRow, ReceiptRow

# Seals a receipt: (its sequence number, the previous receipt's SHA-256 or None for the first) -> its bytes.
Sealer = Callable[[int, "str | None"], bytes]


@dataclass(frozen=True)
class IssuedReceipt:
    job_id: str
    sequence: int
    sha256: str
    previous_sha256: str | None
    body: bytes | None  # None once attached and let go
    pdf: bytes | None


class ChainForked(Exception):  # noqa: N818 - raised only if locking failed; the unique keys refused the fork
    """Another issuer took the same place in the chain at the same moment; issue again."""


class ReceiptChain:
    def __init__(self, transaction: Callable[[], AbstractContextManager[Session]],
                 reading: Callable[[], AbstractContextManager[Session]], *, lock_rows: bool,
                 clock: Callable[[], datetime]):
        self._tx = transaction
        self._read = reading
        self._lock_rows = lock_rows
        self._clock = clock

    def issue(self, job_id: str, seal: Sealer, *, attempts: int = 3) -> IssuedReceipt:
        """The job's receipt: the one already issued, or a new one sealed by `seal` at the chain's head."""
        for _ in range(attempts):
            try:
                return self._issue(job_id, seal)
            except IntegrityError:
                continue  # a fork refused, or the same job issued at once elsewhere: read the chain again
        raise ChainForked(f"receipt of job {job_id}: the chain's head kept moving under this issuer")

    def _issue(self, job_id: str, seal: Sealer) -> IssuedReceipt:
        with self._tx() as session:
            head_query = select(ReceiptChainRow).where(ReceiptChainRow.id == 1)
            if self._lock_rows:
                head_query = head_query.with_for_update()
            head = session.scalars(head_query).one()
            existing = session.get(ReceiptRow, job_id)
            if existing is not None:
                return _issued(existing)
            body = seal(head.sequence + 1, head.sha256)
            row = ReceiptRow(job_id=job_id, sequence=head.sequence + 1, sha256=hashlib.sha256(body).hexdigest(),
                             previous_sha256=head.sha256, issued_at=self._clock(), body=body, pdf=None)
            session.add(row)
            session.flush()
            moved = session.execute(update(ReceiptChainRow).where(
                ReceiptChainRow.id == 1, ReceiptChainRow.sequence == head.sequence)
                .values(sequence=row.sequence, sha256=row.sha256))
            if getattr(moved, "rowcount", 1) != 1:
                raise IntegrityError("receipt_chain", {}, Exception("the head moved"))
            return _issued(row)

    def get(self, job_id: str) -> IssuedReceipt | None:
        with self._read() as session:
            row = session.get(ReceiptRow, job_id)
            return _issued(row) if row else None

    def keep_pdf(self, job_id: str, pdf: bytes) -> bytes:
        """Store the receipt's PDF unless one is stored already; return the stored one (what gets attached)."""
        with self._tx() as session:
            row = session.get(ReceiptRow, job_id)
            if row is None:
                raise LookupError(f"job {job_id} has no receipt")
            if row.pdf is None:
                row.pdf = pdf
            return row.pdf

    def attached(self, job_id: str) -> None:
        """Both Files are in Salesforce: let go of the bytes, keep the receipt's place in the chain."""
        with self._tx() as session:
            session.execute(update(ReceiptRow).where(ReceiptRow.job_id == job_id).values(body=None, pdf=None))

    def head(self) -> tuple[int, str | None]:
        """(how many receipts were issued, the SHA-256 of the last one)."""
        with self._read() as session:
            head = session.scalars(select(ReceiptChainRow).where(ReceiptChainRow.id == 1)).one()
            return head.sequence, head.sha256

    def in_order(self) -> Iterator[IssuedReceipt]:
        """Every receipt issued, first to last (tests and audits)."""
        with self._read() as session:
            rows = list(session.scalars(select(ReceiptRow).order_by(ReceiptRow.sequence)))
        return iter([_issued(row) for row in rows])


def _issued(row: ReceiptRow) -> IssuedReceipt:
    return IssuedReceipt(job_id=row.job_id, sequence=row.sequence, sha256=row.sha256,
                         previous_sha256=row.previous_sha256, body=row.body, pdf=row.pdf)
