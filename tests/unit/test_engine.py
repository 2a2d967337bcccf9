from __future__ import annotations

from datetime import timedelta

from starlette.testclient import TestClient

from connector.ports.crm import CRMError
from connector.ports.errors import ErrorKind
from connector.ports.provider import ProviderQuotaError, ProviderTransientError, SigningState
from connector.store import JobState
from sandbox.pdfgen import encrypted_pdf


def _only_job(daemon):
    jobs = daemon.store.list_jobs()
    assert len(jobs) == 1
    return jobs[0]


def test_stage_entry_sends_one_request_and_writes_sent(world):
    world.add_opportunity()
    daemon = world.daemon()
    daemon.run_once()
    job = _only_job(daemon)
    assert job.state == JobState.AWAITING
    assert world.provider.create_calls == 1
    spec = next(iter(world.provider.requests.values())).spec
    assert [s.email for s in spec.signers] == ["dana@example.com", "eli@example.com"]
    assert [s.order for s in spec.signers] == [1, 2]
    assert spec.subject == "Sign Deal 1AAA"
    assert spec.external_id == job.id
    assert spec.callback_url == "https://connector.example/webhooks/signrequest"
    fields = world.crm.fields["006000000000001AAA"]
    assert fields["Signing_Status__c"] == "Sent"
    assert fields["Signing_Request_Id__c"] == job.request_id
    assert world.crm.tasks["006000000000001AAA"] == [f"Sent for signature: Quote Q-1 (FakeSign {job.request_id})"]


def test_repeated_polls_and_restarts_create_one_job(world):
    world.add_opportunity()
    for _ in range(3):
        world.daemon().run_once()
        world.clock.advance(seconds=30)
    assert len(world.daemon().store.list_jobs()) == 1
    assert world.provider.create_calls == 1


def test_completion_attaches_signed_and_evidence_once(world):
    world.add_opportunity()
    world.daemon().run_once()
    request_id = next(iter(world.provider.requests))
    world.provider.end(request_id, SigningState.COMPLETED)
    world.clock.advance(minutes=37)  # the safety-net status check, no webhook needed
    daemon = world.daemon()
    daemon.run_once()
    job = _only_job(daemon)
    assert (job.state, job.outcome) == (JobState.DONE, "completed")
    titles = [f.title for f in world.crm.attached["006000000000001AAA"]]
    assert titles == ["Quote Q-1 - signed", "Quote Q-1 - evidence", "Quote Q-1 - receipt", "Quote Q-1 - receipt"]
    assert world.crm.fields["006000000000001AAA"]["Signing_Status__c"] == "Completed"


def test_a_signer_who_signs_while_sent_is_written_completes_without_waiting_for_the_safety_net(world):
    world.add_opportunity()
    daemon = world.daemon()
    webhooks = TestClient(daemon.webhook_app())

    def sign_now(writeback) -> None:  # an embedded signer, say, quicker than the "Sent" writeback
        if writeback.fields.get("Signing_Status__c") != "Sent":
            return
        world.clock.advance(seconds=1)
        request_id = next(iter(world.provider.requests))
        world.provider.sign_all(request_id)
        headers, body = world.provider.callback(request_id, "signed")
        assert webhooks.post("/webhooks/signrequest", content=body, headers=headers).status_code == 200
        daemon.dispatcher.dispatch()

    world.crm.write_in_flight = sign_now
    daemon.run_once()  # creates the request and writes "Sent", during which the callback comes
    world.crm.write_in_flight = None
    daemon.run_once()  # no time passes: the callback, not the 30-minute safety net, brings the completion
    job = _only_job(daemon)
    assert (job.state, job.outcome) == (JobState.DONE, "completed")
    assert [f.title for f in world.crm.attached["006000000000001AAA"]] == [
        "Quote Q-1 - signed", "Quote Q-1 - evidence", "Quote Q-1 - receipt", "Quote Q-1 - receipt"]


def test_crash_after_create_finds_the_request_instead_of_sending_again(world):
    world.add_opportunity()
    world.provider.lose_next_create_response = ProviderTransientError("fake", "connection reset")
    world.daemon().run_once()
    assert world.provider.create_calls == 1
    world.clock.advance(minutes=5)
    daemon = world.daemon()
    daemon.run_once()
    job = _only_job(daemon)
    assert job.state == JobState.AWAITING
    assert world.provider.create_calls == 1
    assert job.request_id == next(iter(world.provider.requests))
    assert world.provider.resumed == [job.request_id]


def test_lost_writeback_response_does_not_attach_twice(world):
    world.add_opportunity()
    world.daemon().run_once()
    request_id = next(iter(world.provider.requests))
    world.provider.end(request_id, SigningState.COMPLETED)
    world.crm.crash_after_next_apply = CRMError("timeout", kind=ErrorKind.TRANSIENT)
    world.clock.advance(minutes=37)
    world.daemon().run_once()
    world.clock.advance(minutes=5)
    daemon = world.daemon()
    daemon.run_once()
    assert _only_job(daemon).state == JobState.DONE
    assert sorted(f.filename for f in world.crm.attached["006000000000001AAA"]) == [
        "Quote Q-1 - evidence.pdf", "Quote Q-1 - receipt.json", "Quote Q-1 - receipt.pdf", "Quote Q-1 - signed.pdf"]
    assert world.crm.tasks["006000000000001AAA"].count(f"Signed: Quote Q-1 (FakeSign {request_id})") == 1


def test_decline_writes_status_and_reason(world):
    world.add_opportunity()
    world.daemon().run_once()
    request_id = next(iter(world.provider.requests))
    world.provider.decline(request_id, "dana@example.com", "Price too high")
    world.clock.advance(minutes=37)
    world.daemon().run_once()
    assert world.crm.fields["006000000000001AAA"]["Signing_Status__c"] == "Declined"
    assert "Price too high" in world.crm.fields["006000000000001AAA"]["Signing_Last_Error__c"]
    assert world.crm.tasks["006000000000001AAA"][-1].startswith("Signature declined: Quote Q-1")


def test_contact_without_email_is_written_back_and_others_carry_on(world):
    world.add_opportunity("006000000000001AAA", email=None)
    world.add_opportunity("006000000000002AAA")
    world.daemon().run_once()
    error = world.crm.fields["006000000000001AAA"]["Signing_Last_Error__c"]
    assert "Dana Signer (003000000000001AAA)" in error and "has no email" in error
    assert world.crm.fields["006000000000001AAA"]["Signing_Status__c"] == "Error"
    assert world.crm.fields["006000000000002AAA"]["Signing_Status__c"] == "Sent"
    assert world.provider.create_calls == 1


def test_non_pdf_and_encrypted_pdf_are_refused_with_the_file_named(world):
    world.add_opportunity("006000000000001AAA", content=b"PK\x03\x04 a word document")
    world.add_opportunity("006000000000002AAA", content=encrypted_pdf([["x"]], "secret"))
    world.daemon().run_once()
    first = world.crm.fields["006000000000001AAA"]["Signing_Last_Error__c"]
    second = world.crm.fields["006000000000002AAA"]["Signing_Last_Error__c"]
    assert "'Quote Q-1'" in first and "is not a PDF" in first
    assert "password-protected" in second
    assert world.provider.create_calls == 0


def test_quota_error_is_written_back_with_advice_not_retried(world):
    world.add_opportunity()
    world.provider.fail_next_create = ProviderQuotaError("fake", "no signing credits left")
    world.daemon().run_once()
    job = world.daemon().store.list_jobs()[0]
    assert (job.state, job.outcome) == (JobState.DONE, "failed")
    assert "top up" in world.crm.fields["006000000000001AAA"]["Signing_Last_Error__c"]


def test_transient_errors_retry_with_backoff_then_park(world):
    world.add_opportunity()
    daemon = world.daemon()
    for _ in range(daemon.settings.max_attempts):
        world.provider.fail_next_create = ProviderTransientError("fake", "503")
        daemon.run_once()
        world.clock.advance(hours=2)
    job = _only_job(daemon)
    assert job.state == JobState.PARKED and job.parked_from == "new"
    assert world.provider.create_calls == 0


def test_file_gone_from_salesforce_is_written_back(world):
    opportunity = world.add_opportunity()
    del world.crm.file_contents[opportunity.files[0].version_id]
    world.daemon().run_once()
    error = world.crm.fields[opportunity.id]["Signing_Last_Error__c"]
    assert error.startswith("Salesforce: ContentVersion") and "not found" in error
    assert world.provider.create_calls == 0


def _sent_then_closed_lost(world, lose_create_response: bool = False):
    """Send a request (its create answer lost, if asked), then move the deal to the cancelling stage."""
    from dataclasses import replace

    from mappings.loader import parse_mapping
    from tests.unit.conftest import RULES

    world.mapping = parse_mapping(RULES + '    cancel_on: ["Closed Lost"]\n')
    opportunity = world.add_opportunity()
    if lose_create_response:
        world.provider.lose_next_create_response = ProviderTransientError("fake", "connection reset")
    world.daemon().run_once()
    request_id = next(iter(world.provider.requests))
    world.clock.advance(minutes=1)
    world.crm.opportunities[opportunity.id] = replace(
        opportunity, stage="Closed Lost", system_modstamp=world.clock(), stage_changed_at=world.clock())
    daemon = world.daemon()
    daemon.run_once()
    return daemon, opportunity, request_id


def test_cancel_on_stage_cancels_the_pending_request_and_writes_it_back(world):
    daemon, opportunity, request_id = _sent_then_closed_lost(world)
    assert world.provider.requests[request_id].status.state == SigningState.CANCELLED
    job = _only_job(daemon)
    assert (job.state, job.outcome) == (JobState.DONE, "cancelled")
    fields = world.crm.fields[opportunity.id]
    assert fields["Signing_Status__c"] == "Cancelled"
    assert "moved to stage 'Closed Lost'" in fields["Signing_Last_Error__c"]


def test_a_request_that_ended_before_the_cancel_is_written_back_as_it_ended(world):
    """Signed while its callback was lost, then the deal moved to a cancel_on stage: the documents come back."""
    from dataclasses import replace

    from mappings.loader import parse_mapping
    from tests.unit.conftest import RULES

    world.mapping = parse_mapping(RULES + '    cancel_on: ["Closed Lost"]\n')
    opportunity = world.add_opportunity()
    world.daemon().run_once()
    request_id = next(iter(world.provider.requests))
    world.provider.end(request_id, SigningState.COMPLETED)  # and nobody told the connector
    world.clock.advance(minutes=1)
    world.crm.opportunities[opportunity.id] = replace(
        opportunity, stage="Closed Lost", system_modstamp=world.clock(), stage_changed_at=world.clock())
    daemon = world.daemon()
    daemon.run_once()

    assert (_only_job(daemon).state, _only_job(daemon).outcome) == (JobState.DONE, "completed")
    assert world.crm.fields[opportunity.id]["Signing_Status__c"] == "Completed"
    assert sorted(f.title for f in world.crm.attached[opportunity.id]) == [
        "Quote Q-1 - evidence", "Quote Q-1 - receipt", "Quote Q-1 - receipt", "Quote Q-1 - signed"]


def test_cancelling_a_request_left_half_created_by_a_crash_does_not_finish_sending_it(world):
    daemon, _, request_id = _sent_then_closed_lost(world, lose_create_response=True)
    assert world.provider.resumed == []
    assert world.provider.requests[request_id].status.state == SigningState.CANCELLED
    assert (_only_job(daemon).state, _only_job(daemon).outcome) == (JobState.DONE, "cancelled")


def test_the_connectors_own_outputs_are_never_sent_again(world):
    from dataclasses import replace

    from connector.documents.selection import select_files
    from connector.ports.crm import FileRef

    opportunity = world.add_opportunity()
    with_outputs = replace(opportunity, files=opportunity.files + (
        FileRef("069X", "068X9", "Quote Q-1 - signed", "pdf"), FileRef("069Y", "068Y9", "Quote Q-1 - evidence", "pdf")))
    assert [f.title for f in select_files(with_outputs, "*", "all")] == ["Quote Q-1"]


def test_a_worker_whose_claim_expired_and_was_taken_does_not_act(world):
    world.add_opportunity()
    daemon = world.daemon()
    daemon.poll()
    [stale] = daemon.store.claim_due_jobs("slow-worker", lease_seconds=1)
    world.clock.advance(seconds=5)
    [taken] = daemon.store.claim_due_jobs("other-worker", lease_seconds=300)
    daemon.engine.advance(stale)
    assert world.provider.create_calls == 0
    assert daemon.store.get_job(stale.id).lease_token == taken.lease_token
    daemon.engine.advance(taken)
    assert world.provider.create_calls == 1


def test_a_create_that_may_still_be_at_the_provider_is_waited_for_not_sent_again(world):
    """The worker died (or timed out) mid-create and the provider processes that request only later:
    looking for it at once would miss it and send a second request."""
    world.add_opportunity()
    world.provider.lose_next_create_response = ProviderTransientError("fake", "read timed out")
    world.daemon().run_once()
    assert world.provider.create_calls == 1
    processed_at = world.clock() + timedelta(seconds=20)  # the provider is slow to make it visible
    real_find = world.provider.find_by_external_id
    world.provider.find_by_external_id = lambda job_id: real_find(job_id) if world.clock() >= processed_at else None
    for _ in range(3):  # retries come due within the settle time: each is put off, none creates again
        world.clock.advance(seconds=6)
        world.daemon().run_once()
        assert world.provider.create_calls == 1
    world.clock.advance(seconds=30)
    daemon = world.daemon()
    daemon.run_once()
    job = _only_job(daemon)
    assert (job.state, world.provider.create_calls) == (JobState.AWAITING, 1)
    assert job.request_id == next(iter(world.provider.requests))


def _completion_with_downloads_that_meet(world, side_by_side: bool):
    """Each download waits (up to 2 s) for the other to have started: only side by side do they meet."""
    import threading

    world.settings = world.settings.model_copy(update={"downloads_side_by_side": side_by_side})
    started = {"signed": threading.Event(), "evidence": threading.Event()}
    provider = world.provider
    plain_signed, plain_evidence = provider.download_signed, provider.download_evidence

    def meeting(name, other, download):
        def call(ref, max_bytes=None):
            started[name].set()
            if not started[other].wait(2.0):
                raise ProviderTransientError(provider.display_name, f"{name} download alone")
            return download(ref, max_bytes=max_bytes)
        return call

    provider.download_signed = meeting("signed", "evidence", plain_signed)
    provider.download_evidence = meeting("evidence", "signed", plain_evidence)
    world.add_opportunity()
    world.daemon().run_once()
    world.provider.end(next(iter(world.provider.requests)), SigningState.COMPLETED)
    world.clock.advance(minutes=37)
    daemon = world.daemon()
    daemon.run_once()
    return _only_job(daemon)


def test_a_completion_downloads_the_signed_documents_and_the_evidence_side_by_side(world):
    job = _completion_with_downloads_that_meet(world, side_by_side=True)
    assert (job.state, job.outcome) == (JobState.DONE, "completed")
    titles = [f.title for f in world.crm.attached["006000000000001AAA"]]
    assert titles == ["Quote Q-1 - signed", "Quote Q-1 - evidence", "Quote Q-1 - receipt", "Quote Q-1 - receipt"]


def test_one_after_the_other_when_side_by_side_is_off(world):
    job = _completion_with_downloads_that_meet(world, side_by_side=False)
    assert job.state == JobState.COMPLETING and job.attempts == 1
    assert "signed download alone" in job.last_error
