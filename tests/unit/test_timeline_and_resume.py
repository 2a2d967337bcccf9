"""The job timeline (what the admin page and the receipt read) and the operator's Retry / Re-send."""

from __future__ import annotations

from dataclasses import replace

from connector.ports.crm import Contact, ContactRole
from connector.ports.provider import ProviderTransientError, SigningState
from connector.store import JobFilter, JobState, ResumeResult, TimelineKind
from connector.store.job_search import REFUSED
from connector.store.timeline import MAX_PER_JOB
from tests.unit.conftest import World

OPP = "006000000000001AAA"


def _kinds(daemon, job_id):
    return [entry.kind for entry in daemon.store.timeline(job_id)]


def test_a_signing_leaves_its_story_in_the_timeline(world: World):
    world.add_opportunity()
    daemon = world.daemon()
    daemon.run_once()
    job = daemon.store.list_jobs()[0]
    request_id = next(iter(world.provider.requests))
    world.provider.end(request_id, SigningState.COMPLETED)
    world.clock.advance(minutes=37)
    daemon.run_once()
    entries = daemon.store.timeline(job.id)
    assert [e.kind for e in entries] == [
        "created", "sent", "step", "written_back", "step", "status", "step", "completed", "step", "step"]
    assert f"opportunity {OPP} entered 'Contract Sent'" in entries[0].detail
    assert f"request {request_id} created" in entries[1].detail
    assert entries[2].detail == "new → sent"
    assert [e.detail for e in entries[-2:]] == ["completing → receipt", "receipt → done"]
    assert entries[-1].at == world.clock()


def test_retries_and_the_park_are_in_the_timeline_and_retry_resumes_it(world: World):
    world.add_opportunity()
    daemon = world.daemon()
    for _ in range(daemon.settings.max_attempts):
        world.provider.fail_next_create = ProviderTransientError("fake", "503 from the provider")
        daemon.run_once()
        world.clock.advance(hours=2)
    job = daemon.store.list_jobs()[0]
    assert job.state == JobState.PARKED
    kinds = _kinds(daemon, job.id)
    assert kinds.count("retry") == daemon.settings.max_attempts - 1 and kinds[-1] == "error"
    assert "503 from the provider" in daemon.store.timeline(job.id)[-1].detail

    outcome = daemon.store.resume(job.id, by="admin ann")
    assert outcome.result is ResumeResult.RESUMED
    assert daemon.store.get_job(job.id).last_error is None  # the error stays in the timeline
    daemon.run_once()
    job = daemon.store.get_job(job.id)
    assert (job.state, world.provider.create_calls) == (JobState.AWAITING, 1)
    assert "admin ann resumed the parked job at step new" in [e.detail for e in daemon.store.timeline(job.id)]
    assert daemon.store.resume(job.id, by="x").result is ResumeResult.NOT_RESUMABLE


def test_a_refused_job_is_resent_with_the_fixed_data_once(world: World):
    opportunity = world.add_opportunity(email=None)
    daemon = world.daemon()
    daemon.run_once()
    job = daemon.store.list_jobs()[0]
    assert (job.state, job.outcome, world.provider.create_calls) == (JobState.DONE, "failed", 0)
    assert world.crm.fields[OPP]["Signing_Status__c"] == "Error"
    page = daemon.store.search_jobs(JobFilter(outcome=REFUSED))
    assert [j.id for j in page.jobs] == [job.id] and page.total == 1

    fixed = (ContactRole(Contact("003000000000001AAA", "Dana", "Signer", "dana@example.com"), "Decision Maker", True),
             opportunity.contact_roles[1])
    world.crm.opportunities[OPP] = replace(opportunity, contact_roles=fixed, name="Deal renamed")
    assert daemon.store.resume(job.id, by="admin ann").result is ResumeResult.RESENT
    daemon.run_once()
    job = daemon.store.get_job(job.id)
    assert (job.state, job.outcome, job.last_error) == (JobState.AWAITING, None, None)
    assert world.provider.create_calls == 1
    assert job.opportunity["name"] == "Deal renamed"  # the snapshot was read again
    spec = next(iter(world.provider.requests.values())).spec
    assert spec.external_id == job.id and spec.signers[0].email == "dana@example.com"
    assert world.crm.fields[OPP]["Signing_Status__c"] == "Sent"
    assert daemon.store.resume(job.id, by="admin ann").result is ResumeResult.NOT_RESUMABLE  # it went out


def test_a_resend_whose_request_went_out_finds_it_instead_of_sending_twice(world: World):
    world.add_opportunity(email=None)
    daemon = world.daemon()
    daemon.run_once()
    job = daemon.store.list_jobs()[0]
    daemon.store.resume(job.id, by="admin")
    world.crm.opportunities[OPP] = world.add_opportunity()  # fixed
    world.provider.lose_next_create_response = ProviderTransientError("fake", "connection reset")
    daemon.run_once()  # created at the provider, the answer lost: retried later
    world.clock.advance(hours=1)
    daemon.run_once()
    assert world.provider.create_calls == 1
    assert daemon.store.get_job(job.id).state == JobState.AWAITING


def test_resume_tells_unknown_ids_and_jobs_that_cannot_be_resumed(world: World):
    world.add_opportunity()
    daemon = world.daemon()
    daemon.run_once()
    job = daemon.store.list_jobs()[0]
    assert daemon.store.resume("nope", by="x").result is ResumeResult.UNKNOWN
    refused = daemon.store.resume(job.id, by="x")
    assert refused.result is ResumeResult.NOT_RESUMABLE and "awaiting" in refused.message


def test_the_timeline_is_bounded_per_job_and_keeps_the_creation(store):
    job = store.create_job(entry_key="k", rule_id="r", rule={}, provider="p", opportunity_id=OPP,
                           opportunity={"id": OPP, "stage": "Contract Sent"})
    for n in range(MAX_PER_JOB + 30):
        store.add_timeline(job.id, TimelineKind.STATUS, f"check {n}")
    other = store.create_job(entry_key="k2", rule_id="r", rule={}, provider="p", opportunity_id=OPP, opportunity={})
    assert store.trim_timelines() == 30
    assert len(store.timeline(other.id)) == 1
    entries = store.timeline(job.id)
    assert len(entries) == MAX_PER_JOB + 1
    assert entries[0].kind == "created" and entries[1].detail == "check 30"
    assert entries[-1].detail == f"check {MAX_PER_JOB + 29}"


def test_search_filters_and_pages(store):
    for n in range(5):
        store.create_job(entry_key=f"k{n}", rule_id="quote" if n % 2 else "terms", rule={}, provider="signrequest",
                         opportunity_id=f"00600000000000{n}AAA", opportunity={"name": f"Contoso 100% deal {n}"})
    assert store.search_jobs(JobFilter(rule_id="quote")).total == 2
    assert store.search_jobs(JobFilter(opportunity="contoso 100%")).total == 5
    assert store.search_jobs(JobFilter(opportunity="10_%")).total == 0  # LIKE wildcards are literal
    assert store.search_jobs(JobFilter(opportunity="006000000000003AAA")).total == 1
    page = store.search_jobs(JobFilter(), offset=2, limit=2)
    assert (len(page.jobs), page.total) == (2, 5)


def test_a_callback_matched_to_the_job_is_in_its_timeline_at_its_arrival(world: World):
    from connector.store import NewEvent

    world.add_opportunity()
    daemon = world.daemon()
    daemon.run_once()
    job = daemon.store.list_jobs()[0]
    world.clock.advance(seconds=5)
    arrival = world.clock()
    daemon.store.record_events([NewEvent(provider="signrequest", event_id="ev-1", request_id=job.request_id,
                                         external_id=job.id, kind="signed")])
    world.clock.advance(seconds=5)
    daemon.work()
    entry = next(e for e in daemon.store.timeline(job.id) if e.kind == "callback")
    assert entry.detail == "signrequest callback 'signed' (event ev-1), authenticated" and entry.at == arrival
    assert _kinds(daemon, job.id)[-1] == "status"  # the callback woke a status check


def test_resume_in_one_statement_on_each_database(store):
    def refused(key: str):
        job = store.create_job(entry_key=key, rule_id="r", rule={}, provider="p", opportunity_id=OPP, opportunity={})
        job.state, job.outcome, job.last_error = JobState.DONE, "failed", "no email"
        store.save_job(job)
        return job

    first = refused("k1")
    again = store.resume(first.id, by="ops")
    assert again.result is ResumeResult.RESENT
    job = store.get_job(first.id)
    assert (job.state, job.outcome, job.last_error, str(job.pending_effect)) == (JobState.NEW, None, None, "create")
    assert job.request.reread_opportunity
    job.state, job.outcome = JobState.DONE, "failed"
    store.save_job(job)
    refused("k2")  # the deal entered the stage again: the newer job is the one to retry
    assert store.resume(first.id, by="ops").message.endswith("has a newer job for this rule; retry that one")
