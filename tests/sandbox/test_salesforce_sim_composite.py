"""Composite, sObject Collections and Composite Batch through the real client."""

from __future__ import annotations

import base64

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from tests.sandbox.salesforce_sim_support import make_deal

BASE = "/services/data/v59.0"


def _composite(sf, subrequests: list[dict], **flags) -> list[dict]:
    return sf.restful("composite", method="POST", json={**flags, "compositeRequest": subrequests})[
        "compositeResponse"]


def test_references_files_and_one_api_call(sf_org, sf):
    opportunity = make_deal(sf_org.sim, "Composite Deal")["opportunity"]
    sf_org.sim.reset_api_calls()
    results = _composite(sf, [
        {"method": "POST", "url": f"{BASE}/sobjects/ContentVersion", "referenceId": "file0",
         "body": {"Title": "Signed", "PathOnClient": "signed.pdf", "FirstPublishLocationId": opportunity,
                  "VersionData": base64.b64encode(b"%PDF-1.4 signed").decode()}},
        {"method": "PATCH", "url": f"{BASE}/sobjects/Opportunity/{opportunity}", "referenceId": "opportunity",
         "body": {"Signing_Status__c": "Completed", "Signing_Completed_At__c": "2026-11-24T09:30:00.000Z"}},
        {"method": "POST", "url": f"{BASE}/sobjects/Task", "referenceId": "task",
         "body": {"WhatId": opportunity, "Subject": "Signed", "Status": "Completed", "Description": "@{file0.id}"}},
        {"method": "GET", "url": f"{BASE}/sobjects/Task/@{{task.id}}?fields=Subject,Description",
         "referenceId": "readback"},
        {"method": "GET", "url": f"{BASE}/query?q=SELECT+Id,+Title+FROM+ContentVersion+WHERE+Id+=+'@{{file0.id}}'",
         "referenceId": "files"},
    ], allOrNone=True)
    assert [r["httpStatusCode"] for r in results] == [201, 204, 201, 200, 200]
    assert [r["referenceId"] for r in results] == ["file0", "opportunity", "task", "readback", "files"]
    file_id = results[0]["body"]["id"]
    assert results[0]["httpHeaders"] == {"Location": f"{BASE}/sobjects/ContentVersion/{file_id}"}
    assert results[1]["body"] is None and results[1]["httpHeaders"] == {}
    assert results[3]["body"]["Description"] == file_id
    assert results[4]["body"]["records"][0]["Title"] == "Signed"
    assert sf_org.sim.get_record("Opportunity", opportunity)["Signing_Status__c"] == "Completed"
    assert sf_org.sim.total_api_calls == 1 and sf_org.sim.api_calls == {"POST /composite": 1}


def test_all_or_none_rolls_everything_back(sf_org, sf):
    opportunity = make_deal(sf_org.sim, "Rollback Deal")["opportunity"]
    before = sf_org.sim.get_record("Opportunity", opportunity)
    files_before = len(sf_org.sim.org.blobs)
    results = _composite(sf, [
        {"method": "POST", "url": f"{BASE}/sobjects/ContentVersion", "referenceId": "file0",
         "body": {"PathOnClient": "x.pdf", "FirstPublishLocationId": opportunity,
                  "VersionData": base64.b64encode(b"%PDF").decode()}},
        {"method": "PATCH", "url": f"{BASE}/sobjects/Opportunity/{opportunity}", "referenceId": "opportunity",
         "body": {"Signing_Status__c": "Completed"}},
        {"method": "POST", "url": f"{BASE}/sobjects/Task", "referenceId": "task",
         "body": {"WhatId": opportunity, "Subject": "x" * 256}},
        {"method": "GET", "url": f"{BASE}/sobjects/Account/describe", "referenceId": "after"},
    ], allOrNone=True)
    assert [r["httpStatusCode"] for r in results] == [400, 400, 400, 400]
    codes = [r["body"][0]["errorCode"] for r in results]
    assert codes == ["PROCESSING_HALTED", "PROCESSING_HALTED", "STRING_TOO_LONG", "PROCESSING_HALTED"]
    assert sf_org.sim.get_record("Opportunity", opportunity) == before
    assert sf_org.sim.files_on(opportunity) == [] and len(sf_org.sim.org.blobs) == files_before
    assert sf_org.sim.tasks_on(opportunity) == []


def test_without_all_or_none_only_dependants_halt(sf_org, sf):
    opportunity = make_deal(sf_org.sim, "Partial Deal")["opportunity"]
    results = _composite(sf, [
        {"method": "POST", "url": f"{BASE}/sobjects/Task", "referenceId": "bad",
         "body": {"WhatId": opportunity, "Status": "Nope"}},
        {"method": "GET", "url": f"{BASE}/sobjects/Task/@{{bad.id}}", "referenceId": "needsBad"},
        {"method": "POST", "url": f"{BASE}/sobjects/Task", "referenceId": "good",
         "body": {"WhatId": opportunity, "Subject": "Independent"}},
    ])
    assert [(r["httpStatusCode"], r["body"][0]["errorCode"] if r["httpStatusCode"] >= 400 else None)
            for r in results] == [(400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"), (400, "PROCESSING_HALTED"),
                                  (201, None)]
    assert [t["Subject"] for t in sf_org.sim.tasks_on(opportunity)] == ["Independent"]


def _task(reference: str, **extra) -> dict:
    return {"method": "POST", "url": f"{BASE}/sobjects/Task", "referenceId": reference,
            "body": {"Subject": reference}, **extra}


@pytest.mark.parametrize(("subrequests", "flags"), [
    ([_task(f"t{n}") for n in range(26)], {}),
    ([_task("has-dash")], {}),
    ([_task("twice"), _task("twice")], {}),
    ([_task("t1", method="post")], {}),
    ([_task("t1", url="/services/data/v59.0sobjects/Task")], {}),
    ([_task("t1", url="/services/data/v62.0/sobjects/Task")], {}),
    ([_task("t1", httpHeaders={"Content-Type": "text/plain"})], {}),
    ([_task("t1", body={"Subject": "@{later.id}"}), _task("later")], {}),
    ([{"method": "GET", "url": f"{BASE}/query?q=SELECT+Id+FROM+Task", "referenceId": f"q{n}"}
      for n in range(6)], {}),
    ([_task("t1")], {"allOrNone": "yes"}),
])
def test_malformed_composite_requests_fail_whole(sf_org, sf, subrequests, flags):
    before = len(sf_org.sim.records("Task"))
    with pytest.raises(SalesforceMalformedRequest):
        sf.restful("composite", method="POST", json={**flags, "compositeRequest": subrequests})
    assert len(sf_org.sim.records("Task")) == before


def test_collections_create_update_delete_and_retrieve(sf_org, sf):
    opportunity = make_deal(sf_org.sim, "Collections Deal")["opportunity"]
    created = sf.restful("composite/sobjects", method="POST", json={"allOrNone": False, "records": [
        {"attributes": {"type": "Task"}, "WhatId": opportunity, "Subject": "one"},
        {"attributes": {"type": "Task"}, "WhatId": opportunity, "Subject": "x" * 300},
        {"attributes": {"type": "Account"}, "Name": "Collections Co"},
        {"attributes": {"type": "Task"}, "id": "00T000000000000AAA", "Subject": "with an id"},
    ]})
    assert [r["success"] for r in created] == [True, False, True, False]
    assert created[1] == {"success": False, "errors": [{"statusCode": "STRING_TOO_LONG",
                                                        "message": created[1]["errors"][0]["message"],
                                                        "fields": ["Subject"]}]}
    assert created[3]["errors"][0]["statusCode"] == "INVALID_FIELD"
    task_id, account_id = created[0]["id"], created[2]["id"]
    updated = sf.restful("composite/sobjects", method="PATCH", json={"allOrNone": False, "records": [
        {"attributes": {"type": "Task"}, "id": task_id, "Status": "Completed"},
        {"attributes": {"type": "Task"}, "Status": "Completed"},
    ]})
    assert updated[0] == {"id": task_id, "success": True, "errors": []}
    assert updated[1]["errors"][0]["statusCode"] == "MISSING_ARGUMENT"
    fetched = sf.restful("composite/sobjects/Task", params={"ids": f"{task_id},00T000000000000AAA",
                                                            "fields": "Subject,Status"})
    assert fetched[0]["Status"] == "Completed" and fetched[1] is None
    deleted = sf.restful("composite/sobjects", method="DELETE", params={"ids": f"{account_id},bogus"})
    assert [r["success"] for r in deleted] == [True, False]
    assert deleted[1]["errors"][0]["statusCode"] == "MALFORMED_ID"


def test_collections_all_or_none(sf_org, sf):
    opportunity = make_deal(sf_org.sim, "Collections Rollback Deal")["opportunity"]
    results = sf.restful("composite/sobjects", method="POST", json={"allOrNone": True, "records": [
        {"attributes": {"type": "Task"}, "WhatId": opportunity, "Subject": "kept?"},
        {"attributes": {"type": "Task"}, "WhatId": opportunity, "Priority": "Urgent"},
    ]})
    assert [r["errors"][0]["statusCode"] for r in results] == [
        "ALL_OR_NONE_OPERATION_ROLLED_BACK", "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"]
    assert sf_org.sim.tasks_on(opportunity) == []
    with pytest.raises(SalesforceMalformedRequest) as too_many:
        sf.restful("composite/sobjects", method="POST", json={"records": [
            {"attributes": {"type": "Task"}, "Subject": str(n)} for n in range(201)]})
    assert too_many.value.content[0]["errorCode"] == "EXCEEDED_ID_LIMIT"


def test_batch_counts_every_subrequest_and_can_halt(sf_org, sf):
    opportunity = make_deal(sf_org.sim, "Batch Deal")["opportunity"]
    sf_org.sim.reset_api_calls()
    result = sf.restful("composite/batch", method="POST", json={"haltOnError": True, "batchRequests": [
        {"method": "PATCH", "url": f"v59.0/sobjects/Opportunity/{opportunity}", "richInput": {"NextStep": "sign"}},
        {"method": "GET", "url": f"v59.0/sobjects/Opportunity/{opportunity}?fields=NextStep"},
        {"method": "PATCH", "url": f"v59.0/sobjects/Opportunity/{opportunity}", "richInput": {"Nope__c": 1}},
        {"method": "PATCH", "url": f"v59.0/sobjects/Opportunity/{opportunity}", "richInput": {"NextStep": "x"}},
    ]})
    assert result["hasErrors"] is True
    assert [r["statusCode"] for r in result["results"]] == [204, 200, 400, 412]
    assert result["results"][1]["result"]["NextStep"] == "sign"
    assert result["results"][3]["result"][0]["errorCode"] == "BATCH_PROCESSING_HALTED"
    assert sf_org.sim.get_record("Opportunity", opportunity)["NextStep"] == "sign"  # no rollback in a batch
    assert sf_org.sim.total_api_calls == 4
