"""Documents too big to hold in memory, scaled down: the thresholds are set small so the same paths run
with small files. Over HTTP against the simulators, with the real Salesforce and SignRequest clients."""

from __future__ import annotations

from connector.store import JobState
from sandbox.pdfgen import text_pdf
from tests.e2e.conftest import running_e2e
from tests.e2e.deals import make_deal, sign

STAGE = "Contract Sent"
# About 30 KB: past the spool size (so every copy lives in a temporary file) and the inline threshold.
BIG_PDF = text_pdf([[f"Line {n} of the terms and conditions, long enough to fill the page" for n in range(40)]] * 12,
                   title="Quote")
SMALL = {"document_spool_bytes": 1000, "salesforce_inline_file_bytes": 2000}


def _job(e2e):
    [job] = e2e.daemon.store.list_jobs()
    return job


def _signed_by_both(e2e, name: str) -> str:
    opportunity_id = make_deal(e2e.salesforce, name, file=BIG_PDF)
    e2e.salesforce.set_stage(opportunity_id, STAGE)
    e2e.daemon.run_once()
    job = _job(e2e)
    assert job.state == JobState.AWAITING, job.last_error
    sign(e2e.signrequest, job.request_id, "dana@example.com")
    sign(e2e.signrequest, job.request_id, f"eli.{name.lower().replace(' ', '')}@example.com")
    return opportunity_id


def test_a_document_past_the_inline_threshold_is_signed_and_both_files_attached(tmp_path):
    with running_e2e(tmp_path, **SMALL) as e2e:
        opportunity_id = _signed_by_both(e2e, "Initech Big Deal")
        [document] = e2e.signrequest.documents()
        assert len(BIG_PDF) > 10 * SMALL["salesforce_inline_file_bytes"]
        e2e.salesforce.reset_api_calls()
        e2e.settle(until=lambda: _job(e2e).state == JobState.DONE)

        assert (_job(e2e).state, _job(e2e).outcome) == (JobState.DONE, "completed")
        files = {f["title"]: f["content"] for f in e2e.salesforce.files_on(opportunity_id)}
        signed_at_provider = e2e.signrequest.store.documents[document["uuid"]]
        assert files["Quote Q-9001 - signed"] == signed_at_provider.signed_pdf
        assert files["Quote Q-9001 - evidence"] == signed_at_provider.signing_log
        # The signed PDF went as its own (streamed) multipart upload; the small signing log went inline in the
        # Composite call with the status.
        assert len(signed_at_provider.signing_log) <= SMALL["salesforce_inline_file_bytes"]
        # The receipt's JSON and PDF, each past this test's small threshold, go the same way: 2 uploads more.
        assert e2e.salesforce.api_calls["POST /sobjects/ContentVersion"] == 1 + 2
        assert e2e.salesforce.api_calls["POST /composite"] == 1
        record = e2e.salesforce.get_record("Opportunity", opportunity_id)
        assert record["Signing_Status__c"] == "Completed" and not record["Signing_Last_Error__c"]


def test_a_signed_file_larger_than_the_providers_own_cap_is_still_attached(tmp_path):
    # Issue: a 100 MiB original signs into more than SignRequest's fixed 100 MiB download cap, and the job
    # parked at the download. Scaled down: the adapter's cap is the original's size, the signed file is larger.
    with running_e2e(tmp_path, **SMALL) as e2e:
        e2e.daemon.providers["signrequest"].max_download_bytes = len(BIG_PDF)
        opportunity_id = _signed_by_both(e2e, "Umbrella Big Deal")
        e2e.settle(until=lambda: _job(e2e).state == JobState.DONE)

        assert (_job(e2e).state, _job(e2e).outcome) == (JobState.DONE, "completed")
        [signed] = [f for f in e2e.salesforce.files_on(opportunity_id) if f["title"].endswith(" - signed")]
        assert len(signed["content"]) > len(BIG_PDF)


def test_a_signed_file_over_the_limit_is_told_on_the_opportunity(tmp_path):
    with running_e2e(tmp_path, signed_download_factor=1.0, signed_download_extra_bytes=0, **SMALL) as e2e:
        opportunity_id = _signed_by_both(e2e, "Hooli Big Deal")
        e2e.settle(until=lambda: _job(e2e).state == JobState.PARKED)

        job = _job(e2e)
        assert (job.state, job.parked_from) == (JobState.PARKED, "completing")
        record = e2e.salesforce.get_record("Opportunity", opportunity_id)
        assert record["Signing_Status__c"] == "Error"
        error = record["Signing_Last_Error__c"]
        assert "attaching the signed documents failed" in error and f"larger than {len(BIG_PDF):,} bytes" in error
        assert f"run_connector.py retry {job.id}" in error
        assert not [f for f in e2e.salesforce.files_on(opportunity_id) if f["title"].endswith(" - signed")]
