"""The chain of receipts in the state database: one head, no forks, one receipt per job (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
import threading

import pytest

from connector.store import Store


def _sealer(job_id: str):
    def seal(sequence: int, previous: str | None) -> bytes:
        return f"{job_id}:{sequence}:{previous}".encode()
    return seal


def test_each_receipt_names_the_one_before_and_a_job_gets_one(store):
    first = store.receipts.issue("job-a", _sealer("job-a"))
    second = store.receipts.issue("job-b", _sealer("job-b"))
    again = store.receipts.issue("job-a", _sealer("job-a-other-content"))
    assert (first.sequence, first.previous_sha256) == (1, None)
    assert (second.sequence, second.previous_sha256) == (2, first.sha256)
    assert again == first  # issued before: the same bytes, the chain untouched
    assert store.receipts.head() == (2, hashlib.sha256(b"job-b:2:" + first.sha256.encode()).hexdigest())


def test_the_pdf_kept_first_is_the_one_attached_and_bytes_are_let_go_once_attached(store):
    store.receipts.issue("job-a", _sealer("job-a"))
    assert store.receipts.keep_pdf("job-a", b"%PDF-1") == b"%PDF-1"
    assert store.receipts.keep_pdf("job-a", b"%PDF-2") == b"%PDF-1"
    store.receipts.attached("job-a")
    kept = store.receipts.get("job-a")
    assert kept is not None and (kept.body, kept.pdf, kept.sequence) == (None, None, 1)


def test_replicas_issuing_at_once_make_one_chain_without_forks(store_url):
    """Two stores on one PostgreSQL database (two replicas), four threads each; on SQLite (one daemon per
    database) one store's eight threads: every receipt follows exactly one other."""
    first = Store(store_url)
    replicas = [first, Store(store_url) if store_url.startswith("postgresql") else first]
    first.migrate()
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def issue(replica: Store, worker: int) -> None:
        start.wait()
        try:
            for n in range(6):
                job = f"job-{worker}-{n}"
                replica.receipts.issue(job, _sealer(job))
                replica.receipts.issue(job, _sealer(job))  # a repeat changes nothing
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=issue, args=(replicas[w % 2], w)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    chain = list(replicas[1].receipts.in_order())
    assert [r.sequence for r in chain] == list(range(1, 49))
    assert len({r.job_id for r in chain}) == 48
    previous = None
    for receipt in chain:
        assert receipt.previous_sha256 == previous
        assert receipt.body is not None and receipt.sha256 == hashlib.sha256(receipt.body).hexdigest()
        previous = receipt.sha256
    assert replicas[0].receipts.head() == (48, previous)
    for replica in set(replicas):
        replica.close()


@pytest.mark.parametrize("place", ["sequence", "previous"])
def test_a_second_receipt_at_the_same_place_is_refused_by_the_database(store, place):
    """The backstop under the lock: the chain's unique keys refuse a fork even if two issuers read one head."""
    from sqlalchemy.exc import IntegrityError

    from connector.store.models import ReceiptRow

    first = store.receipts.issue("job-a", _sealer("job-a"))
    store.receipts.issue("job-b", _sealer("job-b"))
    # Same sequence as the second, or a third that names the first as its previous one, like the second does.
    sequence, previous = (2, "e" * 64) if place == "sequence" else (3, first.sha256)
    fork = ReceiptRow(job_id="job-fork", sequence=sequence, sha256="f" * 64, previous_sha256=previous,
                      issued_at=store.now(), body=b"x")
    with pytest.raises(IntegrityError), store._tx() as session:
        session.add(fork)


def test_a_writebacks_version_ids_come_back_in_the_order_of_its_files():
    """Large files are uploaded first, one by one; the receipt names each File's id, so the order is the files'."""
    from adapters.salesforce.writes import in_file_order

    assert in_file_order((True, False, True, False), ["big1", "big2"], ["small1", "small2"]) == (
        "big1", "small1", "big2", "small2")
