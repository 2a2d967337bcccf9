"""Booby-trapped PDFs give a located error naming the file and the opportunity, never a crash or a hang:
each is read in a child process under a deadline and a memory limit (connector.documents.pdf_probe)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connector.documents.pdf_probe_pool import ProbeLimits, ProbePool
from connector.documents.selection import PdfLimits, check_pdf
from connector.ports.crm import FileRef, Opportunity
from connector.ports.errors import PreparationError
from connector.store import JobState
from sandbox.pdfgen import text_pdf
from tests.unit import hostile_pdfs as hostile

FILE = FileRef("069000000000001AAA", "068000000000001AAA", "Quote Q-1", "pdf", 100)
OPPORTUNITY = Opportunity(id="006000000000001AAA", name="Acme renewal", stage="Contract Sent",
                          system_modstamp=datetime(2026, 11, 24, tzinfo=UTC))
WHERE = "File 'Quote Q-1' (068000000000001AAA) on opportunity Acme renewal (006000000000001AAA)"
LIMITS = PdfLimits(parse_seconds=10, parse_memory_mb=256)


def refused(content: bytes, limits: PdfLimits = LIMITS) -> str:
    with pytest.raises(PreparationError) as error:
        check_pdf(FILE, content, limits, OPPORTUNITY)
    assert error.value.message.startswith(WHERE)
    return error.value.message


def test_a_sound_pdf_passes_with_its_page_count():
    assert check_pdf(FILE, text_pdf([["one"], ["two"], ["three"]]), LIMITS, OPPORTUNITY) == 3


@pytest.mark.parametrize("build", [hostile.deep_nesting, hostile.page_tree_loop, hostile.garbage,
                                   lambda: hostile.truncated(text_pdf([["Quote"]]))],
                         ids=["deep-nesting", "page-tree-loop", "garbage", "truncated"])
def test_a_pdf_no_reader_can_make_sense_of_is_damaged(build):
    assert "is damaged or unreadable as a PDF. Export it to PDF again" in refused(build())


def test_a_decompression_bomb_stops_at_the_readers_output_limit():
    message = refused(hostile.decompression_bomb())  # 200 KB that inflates to 200 MB
    assert "goes past the PDF reader's safety limits" in message and "expands" in message


def test_a_decompression_bomb_stops_at_the_memory_limit_below_the_readers_own():
    message = refused(hostile.decompression_bomb(), PdfLimits(parse_seconds=10, parse_memory_mb=64))
    assert "needs more than 64 MB of memory to read" in message


def test_an_exponential_page_tree_stops_at_the_readers_page_tree_limit():
    message = refused(hostile.exponential_page_tree())  # 5 KB naming 2**60 pages
    assert "goes past the PDF reader's safety limits" in message and "page tree" in message


def test_too_many_pages_is_refused_with_the_count():
    assert refused(hostile.many_pages(2001)).endswith("has 2001 pages, over the 2000-page limit.")


def test_a_page_tree_too_big_to_read_in_time_is_stopped_at_the_deadline():
    # 60,000 real pages, with the page limit raised past them: reading takes seconds, the deadline is 1 s.
    limits = PdfLimits(max_pages=1_000_000, parse_seconds=1, parse_memory_mb=1024)
    assert "could not be read within 1 seconds" in refused(hostile.many_pages(60_000), limits)


def test_a_cross_reference_loop_is_read_without_hanging():
    assert check_pdf(FILE, hostile.xref_loop(), LIMITS, OPPORTUNITY) == 1


def test_a_booby_trapped_file_is_written_back_and_the_daemon_goes_on(world):
    bad = world.add_opportunity("006000000000001AAA", content=hostile.decompression_bomb())
    good = world.add_opportunity("006000000000002AAA")
    daemon = world.daemon()
    daemon.run_once()
    jobs = {job.opportunity_id: job for job in daemon.store.list_jobs()}
    assert (jobs[bad.id].state, jobs[bad.id].outcome) == (JobState.DONE, "failed")
    error = world.crm.fields[bad.id]["Signing_Last_Error__c"]
    assert error.startswith(f"File 'Quote Q-1' (068000000000001AAA) on opportunity {bad.name} ({bad.id})")
    assert world.crm.fields[bad.id]["Signing_Status__c"] == "Error"
    assert jobs[good.id].state == JobState.AWAITING and world.provider.create_calls == 1


def test_the_parsing_child_gets_no_connector_setting(monkeypatch):
    monkeypatch.setenv("CONNECTOR_SIGNREQUEST_API_TOKEN", "tok-should-stay-home")
    pool = ProbePool(ProbeLimits(max_pages=10, parse_seconds=10, memory_bytes=256 << 20), 1)
    try:
        assert pool.probe(text_pdf([["one"]])) == {"pages": 1}
        [worker] = list(pool._idle.queue)
        environ = Path(f"/proc/{worker.process.pid}/environ").read_bytes().split(b"\0")
    finally:
        pool.close()
    assert environ and not any(entry.startswith(b"CONNECTOR_") for entry in environ)


def test_one_probe_process_serves_file_after_file_and_a_killed_one_is_replaced():
    pool = ProbePool(ProbeLimits(max_pages=1_000_000, parse_seconds=1, memory_bytes=1 << 30), 1)
    try:
        assert [pool.probe(text_pdf([["x"]] * n)) for n in (1, 2, 3)] == [{"pages": 1}, {"pages": 2}, {"pages": 3}]
        [first] = list(pool._idle.queue)
        assert pool.probe(hostile.many_pages(60_000)) == {"problem": "timeout"}
        assert first.process.returncode is not None  # killed at the deadline
        assert pool.probe(text_pdf([["after"]])) == {"pages": 1}
        assert [w.process.pid for w in pool._idle.queue if w.alive] != [first.process.pid]
    finally:
        pool.close()


def test_after_a_memory_bomb_the_next_documents_get_a_sound_reader():
    """The probe that ran out of memory exits once it has answered; it used to be handed the next document
    before it was gone, which then came back "damaged or unreadable" (5 valid files of 5)."""
    pool = ProbePool(ProbeLimits(max_pages=100, parse_seconds=10, memory_bytes=64 << 20), 1)
    bomb = hostile.decompression_bomb()
    try:
        for _ in range(2):
            assert pool.probe(bomb) == {"problem": "memory"}
            assert [pool.probe(text_pdf([["valid"]] * n)) for n in (1, 2, 3)] == [
                {"pages": 1}, {"pages": 2}, {"pages": 3}]
    finally:
        pool.close()


def test_a_valid_document_waiting_behind_slow_ones_gets_its_whole_deadline():
    """Four files that each take the whole deadline keep both probes busy for two rounds; a valid file sent
    meanwhile waits its turn, then is read in its own time. The wait used to count against its deadline:
    it failed as "built to exhaust PDF readers"."""
    pool = ProbePool(ProbeLimits(max_pages=1_000_000, parse_seconds=1, memory_bytes=1 << 30), 2)
    slow, valid = hostile.many_pages(60_000), text_pdf([["valid"]])
    try:
        with ThreadPoolExecutor(2) as warm:  # both probes started and idle: the first slow files take them at once
            assert list(warm.map(pool.probe, [valid, valid])) == [{"pages": 1}] * 2
        with ThreadPoolExecutor(4) as busy:
            slow_answers = [busy.submit(pool.probe, slow) for _ in range(4)]
            time.sleep(0.3)  # the first two are being read, the other two wait ahead of the valid file
            started = time.monotonic()
            assert pool.probe(valid) == {"pages": 1}
            waited = time.monotonic() - started
            assert [a.result() for a in slow_answers] == [{"problem": "timeout"}] * 4
        assert waited > 1.2  # it waited longer than its own deadline for a probe to come free
    finally:
        pool.close()


def test_a_new_probes_start_up_is_not_counted_against_the_first_document(tmp_path, monkeypatch):
    """A probe imports pypdf before it is ready; on a busy machine that can take longer than the deadline.
    Here a sitecustomize makes every new probe take 1.5 s to start, against a 1 s deadline."""
    (tmp_path / "sitecustomize.py").write_text("import time\ntime.sleep(1.5)\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    pool = ProbePool(ProbeLimits(max_pages=10, parse_seconds=1, memory_bytes=256 << 20), 1)
    try:
        assert pool.probe(text_pdf([["first"]])) == {"pages": 1}
    finally:
        pool.close()
