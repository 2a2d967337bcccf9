"""The Salesforce simulator as the real simple-salesforce client sees it, over HTTPS."""

from __future__ import annotations

import base64
import hashlib
import json
import re

import pytest
import requests
import urllib3
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from connector.sandbox.pdfgen import text_pdf

DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$")


def _deal(sim, name="Test Deal", email="ann@example.com"):
    account = sim.create_record("Account", {"Name": f"{name} Inc"})
    contact = sim.create_record("Contact", {"FirstName": "Ann", "LastName": "Lee", "Email": email, "AccountId": account})
    opp = sim.create_record("Opportunity", {"Name": name, "StageName": "Proposal", "CloseDate": "2026-12-31",
                                            "AccountId": account})
    sim.create_record("OpportunityContactRole", {"OpportunityId": opp, "ContactId": contact, "Role": "Decision Maker",
                                                 "IsPrimary": True})
    return opp


def test_query_with_parent_fields_and_child_subqueries(org):
    opp = _deal(org.sim)
    empty = org.sim.create_record("Opportunity", {"Name": "No children", "StageName": "Proposal",
                                                  "CloseDate": "2026-12-31"})
    org.sim.attach_file(opp, "Quote Q-1", "q.pdf", text_pdf([["Q"]]))
    sf = org.client()
    result = sf.query(
        "SELECT Id, Name, SystemModstamp, Owner.Name, Account.Name, "
        "(SELECT ContactId, Role, IsPrimary, Contact.Email FROM OpportunityContactRoles ORDER BY IsPrimary DESC), "
        "(SELECT ContentDocumentId, ContentDocument.Title, ContentDocument.LatestPublishedVersionId "
        f"FROM ContentDocumentLinks) FROM Opportunity WHERE Id IN ('{opp}', '{empty}') ORDER BY Name ASC")
    assert result["totalSize"] == 2 and result["done"] is True
    no_children, deal = result["records"][0], result["records"][1]
    assert no_children["OpportunityContactRoles"] is None and no_children["Account"] is None
    assert deal["attributes"] == {"type": "Opportunity", "url": f"/services/data/v59.0/sobjects/Opportunity/{opp}"}
    assert DATETIME.match(deal["SystemModstamp"])
    assert deal["Owner"]["Name"] == "Integration User" and deal["Account"]["Name"] == "Test Deal Inc"
    role = deal["OpportunityContactRoles"]["records"][0]
    assert role["Contact"] == {"attributes": role["Contact"]["attributes"], "Email": "ann@example.com"}
    link = deal["ContentDocumentLinks"]["records"][0]
    assert link["ContentDocument"]["Title"] == "Quote Q-1"


def test_paging_follows_next_records_url(org):
    for n in range(250):
        org.sim.create_record("Account", {"Name": f"Paged {n:03d}"})
    sf = org.client()
    first = sf.query("SELECT Id FROM Account WHERE Name LIKE 'Paged%'", headers={"Sforce-Query-Options": "batchSize=200"})
    assert (first["totalSize"], len(first["records"]), first["done"]) == (250, 200, False)
    assert first["nextRecordsUrl"].startswith("/services/data/v59.0/query/")
    rest = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert (len(rest["records"]), rest["done"]) == (50, True)
    assert len(sf.query_all("SELECT Id FROM Account WHERE Name LIKE 'Paged%'")["records"]) == 250


def test_create_update_get_delete_and_modstamp(org):
    sf = org.client()
    created = sf.Account.create({"Name": "Crud Co"})
    assert created["success"] is True and created["errors"] == [] and created["id"].startswith("001")
    before = sf.Account.get(created["id"])["SystemModstamp"]
    assert sf.Account.update(created["id"], {"Name": "Crud Co 2"}) == 204
    after = sf.Account.get(created["id"], params={"fields": "Name,SystemModstamp"})
    assert after["Name"] == "Crud Co 2" and after["SystemModstamp"] > before
    assert sf.Account.delete(created["id"]) == 204
    with pytest.raises(SalesforceResourceNotFound):
        sf.Account.get(created["id"])


def test_errors_are_arrays_with_codes(org):
    sf = org.client()
    with pytest.raises(SalesforceMalformedRequest) as bad_field:
        sf.Opportunity.create({"Name": "x", "StageName": "Proposal", "CloseDate": "2026-01-01", "Bogus__c": 1})
    assert bad_field.value.content[0]["errorCode"] == "INVALID_FIELD"
    with pytest.raises(SalesforceMalformedRequest) as missing:
        sf.Opportunity.create({"Name": "x"})
    assert missing.value.content[0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    with pytest.raises(SalesforceMalformedRequest) as picklist:
        sf.Opportunity.create({"Name": "x", "StageName": "Nope", "CloseDate": "2026-01-01"})
    assert picklist.value.content[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    with pytest.raises(SalesforceMalformedRequest) as too_long:
        sf.Opportunity.create({"Name": "x" * 121, "StageName": "Proposal", "CloseDate": "2026-01-01"})
    assert too_long.value.content[0]["errorCode"] == "STRING_TOO_LONG"
    with pytest.raises(SalesforceMalformedRequest) as readonly:
        sf.Opportunity.create({"Name": "x", "StageName": "Proposal", "CloseDate": "2026-01-01", "IsWon": True})
    assert readonly.value.content[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    with pytest.raises(SalesforceMalformedRequest) as soql:
        sf.query("SELECT Id FROM Opportunity WHERE")
    assert soql.value.content[0]["errorCode"] == "MALFORMED_QUERY"
    with pytest.raises(SalesforceMalformedRequest) as unknown:
        sf.query("SELECT Nope__c FROM Opportunity")
    assert unknown.value.content[0]["errorCode"] == "INVALID_FIELD"
    with pytest.raises(SalesforceMalformedRequest) as links:
        sf.query("SELECT Id FROM ContentDocumentLink")
    assert links.value.content[0]["errorCode"] == "MALFORMED_QUERY"


def test_files_json_and_multipart_upload_and_download(org):
    opp = _deal(org.sim, "Files Deal")
    sf = org.client()
    pdf = text_pdf([["signed"]])
    created = sf.ContentVersion.create({"Title": "Q - signed", "PathOnClient": "q-signed.pdf",
                                        "VersionData": base64.b64encode(pdf).decode(), "FirstPublishLocationId": opp})
    assert sf.ContentVersion.get_base64(created["id"], base64_field="VersionData") == pdf
    body, content_type = urllib3.encode_multipart_formdata([
        ("entity_content", ("", json.dumps({"Title": "Q - evidence", "PathOnClient": "q-ev.pdf",
                                            "FirstPublishLocationId": opp}), "application/json")),
        ("VersionData", ("q-ev.pdf", b"%PDF-1.4 evidence", "application/pdf")),
    ])
    uploaded = sf.restful("sobjects/ContentVersion", method="POST", data=body, headers={"Content-Type": content_type})
    assert uploaded["success"] is True
    version = sf.ContentVersion.get(uploaded["id"])
    assert version["Checksum"] == hashlib.md5(b"%PDF-1.4 evidence").hexdigest()
    assert version["FileExtension"] == "pdf" and version["ContentSize"] == len(b"%PDF-1.4 evidence")
    assert {f["title"] for f in org.sim.files_on(opp)} == {"Q - signed", "Q - evidence"}
    with pytest.raises(SalesforceMalformedRequest):
        sf.restful("sobjects/ContentVersion", method="POST", data=b"--x\r\n\r\n--x--",
                   headers={"Content-Type": "multipart/form-data; boundary=x"})


def test_composite_references_and_all_or_none_rollback(org):
    opp = _deal(org.sim, "Composite Deal")
    sf = org.client()
    ok = sf.restful("composite", method="POST", json={"allOrNone": True, "compositeRequest": [
        {"method": "PATCH", "url": f"/services/data/v59.0/sobjects/Opportunity/{opp}", "referenceId": "opp",
         "body": {"Signing_Status__c": "Sent"}},
        {"method": "POST", "url": "/services/data/v59.0/sobjects/Task", "referenceId": "task",
         "body": {"WhatId": opp, "Subject": "Sent", "Status": "Completed"}},
        {"method": "GET", "url": "/services/data/v59.0/sobjects/Task/@{task.id}?fields=Subject", "referenceId": "read"},
    ]})
    codes = [r["httpStatusCode"] for r in ok["compositeResponse"]]
    assert codes == [204, 201, 200] and ok["compositeResponse"][2]["body"]["Subject"] == "Sent"
    failed = sf.restful("composite", method="POST", json={"allOrNone": True, "compositeRequest": [
        {"method": "POST", "url": "/services/data/v59.0/sobjects/Task", "referenceId": "t1",
         "body": {"WhatId": opp, "Subject": "Rolled back"}},
        {"method": "PATCH", "url": f"/services/data/v59.0/sobjects/Opportunity/{opp}", "referenceId": "bad",
         "body": {"Nope__c": 1}},
    ]})
    first, second = failed["compositeResponse"]
    assert second["body"][0]["errorCode"] == "INVALID_FIELD"
    assert first["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert [t["Subject"] for t in org.sim.tasks_on(opp)] == ["Sent"]


def test_expired_session_limits_and_usage_header(org):
    sf = org.client()
    sf.query("SELECT Id FROM Account LIMIT 1")
    assert sf.api_usage["api-usage"].total == 100_000
    org.sim.expire_sessions()
    with pytest.raises(SalesforceExpiredSession) as expired:
        sf.query("SELECT Id FROM Account LIMIT 1")
    assert expired.value.content[0]["errorCode"] == "INVALID_SESSION_ID"
    sf = org.client()
    org.sim.usage.used, limit = org.sim.usage.daily_limit, org.sim.usage.daily_limit
    try:
        with pytest.raises(SalesforceRefusedRequest) as refused:
            sf.query("SELECT Id FROM Account LIMIT 1")
        assert refused.value.content[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    finally:
        org.sim.usage.used = 0
    assert limit == 100_000


def test_oauth_errors_and_soap_login(org):
    bad = requests.post(f"{org.url}/services/oauth2/token", verify=org.ca, timeout=5,
                        data={"grant_type": "client_credentials", "client_id": "sandbox-client-id",
                              "client_secret": "wrong"})
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_client"
    envelope = ("<?xml version='1.0'?><env:Envelope xmlns:env='http://schemas.xmlsoap.org/soap/envelope/' "
                "xmlns:urn='urn:partner.soap.sforce.com'><env:Body><urn:login><urn:username>integration@sandbox."
                "example</urn:username><urn:password>sandbox-passwordsandbox-token</urn:password></urn:login>"
                "</env:Body></env:Envelope>")
    ok = requests.post(f"{org.url}/services/Soap/u/59.0", data=envelope, verify=org.ca, timeout=5,
                       headers={"content-type": "text/xml", "SOAPAction": "login"})
    assert ok.status_code == 200 and "<sessionId>" in ok.text
    fault = requests.post(f"{org.url}/services/Soap/u/59.0", data=envelope.replace("sandbox-token", "x"),
                          verify=org.ca, timeout=5)
    assert fault.status_code == 500 and "<sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode>" in fault.text


def test_stage_change_keeps_history_and_last_stage_change_date(org):
    opp = _deal(org.sim, "History Deal")
    org.sim.set_stage(opp, "Contract Sent")
    record = org.sim.get_record("Opportunity", opp)
    assert record["LastStageChangeDate"] == record["SystemModstamp"]
    stages = [h["StageName"] for h in org.sim.records("OpportunityHistory") if h["OpportunityId"] == opp]
    assert stages == ["Proposal", "Contract Sent"]
    sf = org.client()
    found = sf.query("SELECT Id FROM Opportunity WHERE StageName = 'contract sent' "
                     f"AND LastStageChangeDate >= 2020-01-01T00:00:00Z AND Id = '{opp}'")
    assert [r["Id"] for r in found["records"]] == [opp]
    assert requests.get(f"{org.url}/sandbox/", verify=org.ca, timeout=5).status_code == 200
