"""SalesforceCRM.apply_many over the real simple-salesforce client, against the simulator over HTTPS."""

from __future__ import annotations

import pytest

from adapters.salesforce import build_crm, field_settings
from adapters.transport.session import make_session
from config.settings import Settings
from connector.ports.crm import CRMError, FileUpload, TaskEntry, Writeback, WritebackResult
from sandbox.pdfgen import text_pdf


@pytest.fixture
def crm(org):
    settings = Settings(_env_file=None, salesforce_login_url=org.url, salesforce_client_id="sandbox-client-id",
                        salesforce_client_secret="sandbox-client-secret", salesforce_ca_bundle=org.ca)
    return build_crm(settings, session=make_session(org.ca))


def _deal(sim, name: str) -> str:
    account = sim.create_record("Account", {"Name": name})
    return sim.create_record("Opportunity", {"Name": name, "StageName": "Proposal", "CloseDate": "2026-12-31",
                                             "AccountId": account})


def _completed(opportunity: str, name: str) -> Writeback:
    return Writeback(opportunity_id=opportunity, fields={"Signing_Status__c": "Completed"},
                     files=(FileUpload(f"{name} - signed", f"{name} - signed.pdf", text_pdf([[name, "signed"]])),
                            FileUpload(f"{name} - evidence", f"{name} - evidence.pdf", text_pdf([[name]]))),
                     tasks=(TaskEntry(f"Signed: {name}"),))


def test_several_opportunities_in_one_call_each_with_its_files_and_task(org, crm):
    deals = {name: _deal(org.sim, name) for name in ("Batch A", "Batch B", "Batch C")}
    writebacks = [_completed(opportunity, name) for name, opportunity in deals.items()]
    before = org.sim.total_api_calls

    results = crm.apply_many(writebacks)

    assert org.sim.total_api_calls - before == 1
    for (name, opportunity), result in zip(deals.items(), results, strict=True):
        assert isinstance(result, WritebackResult) and len(result.file_version_ids) == 2
        assert org.sim.get_record("Opportunity", opportunity)["Signing_Status__c"] == "Completed"
        assert sorted(f["title"] for f in org.sim.files_on(opportunity)) == [f"{name} - evidence",
                                                                             f"{name} - signed"]
        assert [t["Id"] for t in org.sim.tasks_on(opportunity)] == list(result.task_ids)


def test_a_refused_field_fails_only_its_writeback_whole_with_the_error_apply_gives(org, crm):
    good, bad, other = (_deal(org.sim, name) for name in ("Fine One", "Refused One", "Fine Two"))
    crm.field_settings = field_settings(Settings(_env_file=None))
    refused = Writeback(opportunity_id=bad, fields={"Signing_State__c": "Completed"},
                        files=(FileUpload("Refused - signed", "r.pdf", text_pdf([["r"]])),),
                        tasks=(TaskEntry("Signed: Refused"),))
    with pytest.raises(CRMError) as alone:
        crm.apply(refused)
    before = org.sim.total_api_calls

    results = crm.apply_many([_completed(good, "Fine One"), refused, _completed(other, "Fine Two")])

    assert isinstance(results[1], CRMError)
    assert (results[1].message, results[1].code, results[1].retriable) == (alone.value.message, "INVALID_FIELD",
                                                                           False)
    assert org.sim.files_on(bad) == [] and org.sim.tasks_on(bad) == []  # nothing of it, as when sent alone
    for opportunity, result in ((good, results[0]), (other, results[2])):
        assert isinstance(result, WritebackResult)
        assert len(org.sim.files_on(opportunity)) == 2 and len(org.sim.tasks_on(opportunity)) == 1
    assert org.sim.total_api_calls - before == 2  # refused and rolled back, then the rest


def test_inline_files_are_spread_over_calls_so_that_no_body_passes_the_limit(org, crm, monkeypatch):
    from sandbox.salesforce_sim import app

    monkeypatch.setattr(app, "MAX_TEXT_BODY_BYTES", 2500)  # stands for 50 MB: one file's body fits, two do not
    crm.multipart_threshold = crm.batch_inline_bytes = 1200  # stand for the raw bytes one body may carry inline
    deals = [_deal(org.sim, name) for name in ("Body One", "Body Two")]
    writebacks = [Writeback(opportunity_id=opportunity, files=(FileUpload("Signed", "s.pdf", b"%PDF" + b"x" * 996),))
                  for opportunity in deals]
    before = org.sim.total_api_calls

    results = crm.apply_many(writebacks)

    assert all(isinstance(r, WritebackResult) for r in results)
    assert org.sim.total_api_calls - before == 2 and org.sim.api_calls["POST /sobjects/ContentVersion"] == 0
    assert [len(org.sim.files_on(opportunity)) for opportunity in deals] == [1, 1]


def test_a_batched_call_carries_more_inline_files_than_one_writeback_may(org, crm):
    """The per-writeback inline size (a memory bound for one big document) does not split a batch of small ones."""
    crm.multipart_threshold, crm.batch_inline_bytes = 1200, 10_000
    deals = [_deal(org.sim, name) for name in ("Small One", "Small Two", "Small Three")]
    writebacks = [Writeback(opportunity_id=opportunity, files=(FileUpload("Signed", "s.pdf", b"%PDF" + b"x" * 996),))
                  for opportunity in deals]
    before = org.sim.total_api_calls

    results = crm.apply_many(writebacks)

    assert all(isinstance(r, WritebackResult) for r in results)
    assert org.sim.total_api_calls - before == 1 and org.sim.api_calls["POST /sobjects/ContentVersion"] == 0
    assert [len(org.sim.files_on(opportunity)) for opportunity in deals] == [1, 1, 1]
