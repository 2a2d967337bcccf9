"""The CRM port over the real simple-salesforce client, against the simulator over HTTPS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests

from adapters.salesforce import build_crm
from adapters.transport.session import make_session
from config.settings import Settings
from connector.ports.crm import CRMError, FileUpload, TaskEntry, Writeback
from sandbox.pdfgen import text_pdf


@pytest.fixture
def crm(org):
    settings = Settings(_env_file=None, salesforce_login_url=org.url, salesforce_client_id="sandbox-client-id",
                        salesforce_client_secret="sandbox-client-secret", salesforce_ca_bundle=org.ca)
    return build_crm(settings, session=make_session(org.ca))


def _deal(sim, name):
    account = sim.create_record("Account", {"Name": name})
    contact = sim.create_record("Contact", {"FirstName": "Kim", "LastName": "Ng", "Email": "kim@example.com",
                                            "MobilePhone": "+15550123", "AccountId": account})
    opp = sim.create_record("Opportunity", {"Name": name, "StageName": "Proposal", "CloseDate": "2026-12-31",
                                            "AccountId": account})
    sim.create_record("OpportunityContactRole", {"OpportunityId": opp, "ContactId": contact, "Role": "Decision Maker",
                                                 "IsPrimary": True})
    version, _ = sim.attach_file(opp, "Quote Q-7", "q7.pdf", text_pdf([["Q-7"]]))
    return opp, version


def test_poll_maps_opportunities_with_roles_and_files_in_one_call(org, crm):
    opp, version = _deal(org.sim, "Poll Co")
    org.sim.set_stage(opp, "Contract Sent")
    before = org.sim.total_api_calls
    result = crm.poll_opportunities(["Contract Sent"], datetime.now(UTC) - timedelta(minutes=5))
    assert org.sim.total_api_calls - before == 1
    [found] = [o for o in result.opportunities if o.id == opp]
    assert (found.name, found.stage, found.account_name, found.owner_name) == ("Poll Co", "Contract Sent", "Poll Co",
                                                                               "Integration User")
    assert found.stage_changed_at == found.system_modstamp
    [role] = found.contact_roles
    assert (role.role, role.is_primary, role.contact.email, role.contact.mobile_phone) == (
        "Decision Maker", True, "kim@example.com", "+15550123")
    [file] = found.files
    assert (file.title, file.version_id, file.extension) == ("Quote Q-7", version, "pdf")
    assert crm.download_file(version).head(5) == b"%PDF-"


def test_apply_writes_fields_files_and_tasks_in_one_call_and_missing_parts_finds_them(org, crm):
    opp, _ = _deal(org.sim, "Apply Co")
    writeback = Writeback(
        opportunity_id=opp,
        fields={"Signing_Status__c": "Completed", "Signing_Completed_At__c": datetime(2026, 11, 24, 9, 30, tzinfo=UTC),
                "Signing_Last_Error__c": None},
        files=(FileUpload("Quote Q-7 - signed", "Quote Q-7 - signed.pdf", text_pdf([["signed"]])),),
        tasks=(TaskEntry("Signed: Quote Q-7 (SignRequest r1)", "All signed."),),
    )
    missing_before = crm.missing_parts(writeback)
    assert missing_before.files == writeback.files and missing_before.tasks == writeback.tasks
    before = org.sim.total_api_calls
    result = crm.apply(writeback)
    assert org.sim.total_api_calls - before == 1
    assert len(result.file_version_ids) == 1 and len(result.task_ids) == 1
    record = org.sim.get_record("Opportunity", opp)
    assert record["Signing_Status__c"] == "Completed"
    assert record["Signing_Completed_At__c"] == datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
    assert "Quote Q-7 - signed" in {f["title"] for f in org.sim.files_on(opp)}
    missing_after = crm.missing_parts(writeback)
    assert missing_after.files == () and missing_after.tasks == ()


def test_large_files_go_multipart(org, crm):
    opp, _ = _deal(org.sim, "Big Co")
    crm.multipart_threshold = 100
    big = text_pdf([["x" * 80] * 40])
    crm.apply(Writeback(opportunity_id=opp, files=(FileUpload("Big - signed", "big.pdf", big),)))
    assert [f["content"] for f in org.sim.files_on(opp) if f["title"] == "Big - signed"] == [big]
    assert org.sim.api_calls["POST /sobjects/ContentVersion"] >= 1


def test_a_file_on_disk_downloads_and_uploads_as_a_stream(org, crm):
    opp, _ = _deal(org.sim, "Disk Co")
    content = text_pdf([["y" * 80] * 400])
    version, _ = org.sim.attach_file(opp, "Quote Q-8", "q8.pdf", content)
    crm.spool_bytes, crm.multipart_threshold = 1000, 1000
    blob = crm.download_file(version)
    assert blob.path is not None and blob.read_bytes() == content
    crm.apply(Writeback(opportunity_id=opp, files=(FileUpload("Q-8 - signed", "q8.pdf", blob),)))
    assert [f["content"] for f in org.sim.files_on(opp) if f["title"] == "Q-8 - signed"] == [content]


def test_refused_write_names_the_field_and_the_fix(org, crm):
    opp, _ = _deal(org.sim, "Refused Co")
    with pytest.raises(CRMError) as refused:
        crm.apply(Writeback(opportunity_id=opp, fields={"Signing_State__c": "Sent"},
                            tasks=(TaskEntry("Sent"),)))
    assert refused.value.retriable is False and refused.value.code == "INVALID_FIELD"
    assert f"Opportunity {opp}" in refused.value.message and "CONNECTOR_FIELD_" in refused.value.message
    assert org.sim.tasks_on(opp) == []


def test_expired_session_is_renewed_once(org, crm):
    crm.poll_opportunities(["Contract Sent"], None)
    org.sim.expire_sessions()
    crm.poll_opportunities(["Contract Sent"], None)
    assert crm.client.calls >= 3


def test_record_links_are_known_once_logged_in_and_open_the_console(org, crm):
    opp, _ = _deal(org.sim, "Linked Deal")
    assert crm.record_url("Opportunity", opp) is None  # the org's address comes with the login
    crm.get_opportunity(opp)
    url = crm.record_url("Opportunity", opp)
    assert url == f"{org.url}/lightning/r/Opportunity/{opp}/view"
    answer = requests.get(url, verify=org.ca, timeout=5, allow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == f"/sandbox/#{opp}"
