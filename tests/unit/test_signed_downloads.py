"""How big a signed download may be: relative to what was sent, and a refusal is told on the opportunity."""

from __future__ import annotations

from dataclasses import replace

from connector.ports.provider import ProviderNotFound, SigningState
from connector.store import JobState
from sandbox.pdfgen import text_pdf

OPP = "006000000000001AAA"
DOCUMENT = text_pdf([["Quote"] * 40])


def _signed_at_provider(world) -> str:
    world.add_opportunity(content=DOCUMENT)
    world.daemon().run_once()
    request_id = next(iter(world.provider.requests))
    world.provider.end(request_id, SigningState.COMPLETED)
    world.clock.advance(minutes=37)  # the safety-net status check
    return request_id


def test_the_signed_download_may_be_a_multiple_of_what_was_sent(world):
    world.settings = world.settings.model_copy(update={"signed_download_factor": 1.5,
                                                       "signed_download_extra_bytes": 100})
    _signed_at_provider(world)
    world.daemon().run_once()
    [job] = world.daemon().store.list_jobs()
    assert (job.state, job.outcome) == (JobState.DONE, "completed")
    assert job.request.sent_bytes == len(DOCUMENT)
    assert world.provider.download_limits == [int(len(DOCUMENT) * 1.5) + 100]


def test_a_signed_file_over_the_limit_parks_the_job_and_tells_the_rep(world):
    # The fake signs by adding a signature page: a limit of exactly what was sent refuses the signed copy.
    world.settings = world.settings.model_copy(update={"signed_download_factor": 1.0,
                                                       "signed_download_extra_bytes": 0})
    request_id = _signed_at_provider(world)
    daemon = world.daemon()
    daemon.run_once()
    [job] = daemon.store.list_jobs()
    assert (job.state, job.parked_from) == (JobState.PARKED, "completing")
    fields = world.crm.fields[OPP]
    assert fields["Signing_Status__c"] == "Error"
    error = fields["Signing_Last_Error__c"]
    assert f"FakeSign request {request_id}: attaching the signed documents failed" in error
    assert f"download larger than {len(DOCUMENT):,} bytes" in error
    assert f"run_connector.py retry {job.id}" in error
    assert not world.crm.attached.get(OPP)

    # An administrator raises the limit and resumes the job: the files land and the error is cleared.
    world.settings = world.settings.model_copy(update={"signed_download_extra_bytes": 1024})
    job.state, job.attempts, job.parked_from, job.next_run_at = JobState.COMPLETING, 0, None, world.clock()
    daemon.store.save_job(job, release=True)
    world.daemon().run_once()
    assert world.crm.fields[OPP]["Signing_Status__c"] == "Completed"
    assert world.crm.fields[OPP]["Signing_Last_Error__c"] is None
    assert [f.title for f in world.crm.attached[OPP]] == ["Quote Q-1 - signed", "Quote Q-1 - evidence",
                                                          "Quote Q-1 - receipt", "Quote Q-1 - receipt"]


def test_a_job_from_before_sizes_were_kept_is_capped_from_the_largest_document(world):
    _signed_at_provider(world)
    daemon = world.daemon()
    [job] = daemon.store.list_jobs()
    job.request = replace(job.request, sent_bytes=None)
    daemon.store.save_job(job)
    daemon.run_once()
    settings = world.settings
    expected = int(settings.max_document_bytes * settings.signed_download_factor) + settings.signed_download_extra_bytes
    assert world.provider.download_limits == [expected]


def test_a_request_gone_at_the_provider_is_told_on_the_opportunity_too(world):
    world.add_opportunity(content=DOCUMENT)
    world.daemon().run_once()
    request_id = next(iter(world.provider.requests))
    del world.provider.requests[request_id]
    world.provider.get_status = lambda ref: (_ for _ in ()).throw(ProviderNotFound("FakeSign", "404 gone"))
    world.clock.advance(minutes=37)
    world.daemon().run_once()
    [job] = world.daemon().store.list_jobs()
    assert job.state == JobState.PARKED
    error = world.crm.fields[OPP]["Signing_Last_Error__c"]
    assert f"request {request_id}: step awaiting failed: 404 gone" in error
