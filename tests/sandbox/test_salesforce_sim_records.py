"""sObject rows and describe through the real client: CRUD, validation errors, derived fields, history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from simple_salesforce.exceptions import (
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceResourceNotFound,
)

from sandbox.salesforce_sim.ids import canonical_id
from tests.sandbox.salesforce_sim_support import make_deal


def _error(raised) -> dict:
    return raised.value.content[0]


def test_create_read_update_delete(sf_org, sf):
    created = sf.Account.create({"Name": "Crud Co", "Phone": "+15550123"})
    assert list(created) == ["id", "success", "errors"] and created["success"] is True and created["errors"] == []
    account_id = created["id"]
    assert account_id.startswith("001") and canonical_id(account_id) == account_id
    full = sf.Account.get(account_id[:15])  # the 15-character form names the same record
    assert full["attributes"] == {"type": "Account", "url": f"/services/data/v59.0/sobjects/Account/{account_id}"}
    assert (full["Id"], full["Name"], full["OwnerId"], full["IsDeleted"]) == (
        account_id, "Crud Co", sf_org.sim.integration_user_id, False)
    assert sf.Account.update(account_id, {"Name": "Crud Co 2", "Phone": None}) == 204
    after = sf.Account.get(account_id, params={"fields": "Name,Phone,SystemModstamp,LastModifiedDate"})
    assert list(after) == ["attributes", "Name", "Phone", "SystemModstamp", "LastModifiedDate"]
    assert (after["Name"], after["Phone"]) == ("Crud Co 2", None)
    assert after["SystemModstamp"] > full["SystemModstamp"] and after["LastModifiedDate"] == after["SystemModstamp"]
    with pytest.raises(SalesforceMalformedRequest) as unknown:
        sf.Account.get(account_id, params={"fields": "Name,Nope__c"})
    assert _error(unknown)["errorCode"] == "INVALID_FIELD"
    assert sf.Account.delete(account_id) == 204
    with pytest.raises(SalesforceResourceNotFound) as gone:
        sf.Account.get(account_id)
    assert _error(gone)["errorCode"] == "ENTITY_IS_DELETED"
    with pytest.raises(SalesforceResourceNotFound) as missing:
        sf.Account.get("001000000000000AAA")
    assert _error(missing)["errorCode"] == "NOT_FOUND"
    with pytest.raises(SalesforceResourceNotFound):
        sf.Account.get("not-an-id")


def test_system_modstamp_strictly_increases_and_names_who_changed_it(sf_org):
    sim = sf_org.sim
    deal = make_deal(sim, "Stamp Deal")
    stamps = []
    for n in range(25):
        sim.update_record("Opportunity", deal["opportunity"], {"NextStep": f"call {n}"})
        stamps.append(sim.get_record("Opportunity", deal["opportunity"])["SystemModstamp"])
    assert all(later > earlier for earlier, later in zip(stamps, stamps[1:], strict=False))
    assert all(stamp.microsecond % 1000 == 0 for stamp in stamps)  # millisecond resolution
    record = sim.get_record("Opportunity", deal["opportunity"])
    assert record["LastModifiedById"] == sim.admin_user_id  # a UI edit, not the integration user
    assert record["CreatedById"] == sim.integration_user_id


def _opportunity(**fields) -> dict:
    return {"Name": "Valid", "StageName": "Proposal", "CloseDate": "2026-01-01", **fields}


@pytest.mark.parametrize(("sobject", "body", "code", "fields"), [
    ("Opportunity", _opportunity(Bogus__c=1), "INVALID_FIELD", None),
    ("Opportunity", {"Name": "x"}, "REQUIRED_FIELD_MISSING", ["StageName", "CloseDate"]),
    ("Opportunity", _opportunity(StageName="Nope"), "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", ["StageName"]),
    ("Opportunity", _opportunity(Name="x" * 121), "STRING_TOO_LONG", ["Name"]),
    ("Opportunity", _opportunity(Signing_Last_Error__c="e" * 4001), "STRING_TOO_LONG", ["Signing_Last_Error__c"]),
    ("Opportunity", _opportunity(IsWon=True), "INVALID_FIELD_FOR_INSERT_UPDATE", ["IsWon"]),
    ("Opportunity", _opportunity(Id="006000000000000AAA"), "INVALID_FIELD", ["Id"]),
    ("Opportunity", _opportunity(Amount="lots"), "JSON_PARSER_ERROR", ["Amount"]),
    ("Opportunity", _opportunity(CloseDate="31/12/2026"), "JSON_PARSER_ERROR", ["CloseDate"]),
    ("Opportunity", _opportunity(Signing_Sent_At__c="2026-01-01T10:00:00"), "JSON_PARSER_ERROR",
     ["Signing_Sent_At__c"]),
    ("Opportunity", _opportunity(AccountId="12345"), "MALFORMED_ID", ["AccountId"]),
    ("Opportunity", _opportunity(AccountId="006000000000000AAA"), "MALFORMED_ID", ["AccountId"]),
    ("Opportunity", _opportunity(AccountId="001000000000000AAA"), "INVALID_CROSS_REFERENCE_KEY", ["AccountId"]),
    ("Contact", {"LastName": "Lee", "Email": "not an email"}, "INVALID_EMAIL_ADDRESS", ["Email"]),
    ("Task", {"Subject": "x", "Status": None}, "REQUIRED_FIELD_MISSING", ["Status"]),
    ("Task", {"Subject": "x", "WhatId": "003000000000000AAA"}, "MALFORMED_ID", ["WhatId"]),
])
def test_create_validation_errors(sf, sobject, body, code, fields):
    with pytest.raises(SalesforceMalformedRequest) as refused:
        getattr(sf, sobject).create(body)
    error = _error(refused)
    assert error["errorCode"] == code and error.get("fields") == fields and error["message"]
    assert isinstance(refused.value.content, list)


def test_update_validation_errors(sf_org, sf):
    deal = make_deal(sf_org.sim, "Update Rules Deal")
    with pytest.raises(SalesforceMalformedRequest) as moved:
        sf.OpportunityContactRole.update(deal["role"], {"OpportunityId": deal["opportunity"]})
    assert _error(moved)["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    with pytest.raises(SalesforceMalformedRequest) as emptied:
        sf.Opportunity.update(deal["opportunity"], {"Name": None})
    assert _error(emptied)["errorCode"] == "REQUIRED_FIELD_MISSING"
    with pytest.raises(SalesforceMalformedRequest) as history:
        sf.OpportunityHistory.create({"StageName": "Proposal"})
    assert _error(history)["errorCode"] == "INVALID_TYPE"


def test_describe_lists_fields_picklists_and_child_relationships(sf):
    opportunity = sf.Opportunity.describe()
    fields = {f["name"]: f for f in opportunity["fields"]}
    stage = fields["StageName"]
    assert [p["value"] for p in stage["picklistValues"] if p["active"]] == [
        "Prospecting", "Qualification", "Proposal", "Negotiation", "Verbal Commitment", "Contract Sent", "Closed Won",
        "Closed Lost"]
    assert set(stage["picklistValues"][0]) == {"active", "defaultValue", "label", "validFor", "value"}
    assert (stage["type"], stage["nillable"], stage["createable"], stage["updateable"]) == (
        "picklist", False, True, True)
    assert (fields["Name"]["length"], fields["IsWon"]["updateable"], fields["Signing_Status__c"]["custom"]) == (
        120, False, True)
    assert fields["OwnerId"]["referenceTo"] == ["User"] and fields["OwnerId"]["relationshipName"] == "Owner"
    assert fields["Signing_Last_Error__c"]["filterable"] is False
    children = {c["relationshipName"]: c for c in opportunity["childRelationships"]}
    assert children["OpportunityContactRoles"]["childSObject"] == "OpportunityContactRole"
    assert {"ContentDocumentLinks", "Tasks", "OpportunityHistories"} <= set(children)
    status = {f["name"]: f for f in sf.Task.describe()["fields"]}["Status"]
    assert [p["value"] for p in status["picklistValues"] if p["defaultValue"]] == ["Not Started"]
    names = {o["name"] for o in sf.describe()["sobjects"]}
    assert {"Opportunity", "ContentVersion", "ContentDocumentLink", "Task", "OpportunityHistory"} <= names
    assert sf.Opportunity.metadata()["objectDescribe"]["keyPrefix"] == "006"


def test_stage_changes_derive_fields_and_write_history(sf_org, sf):
    sim = sf_org.sim
    deal = make_deal(sim, "Stage Deal")
    created = sim.get_record("Opportunity", deal["opportunity"])
    assert created["LastStageChangeDate"] is None and created["Probability"] == 50
    sim.set_stage(deal["opportunity"], "Contract Sent")
    moved = sim.get_record("Opportunity", deal["opportunity"])
    assert moved["LastStageChangeDate"] == moved["SystemModstamp"]
    assert (moved["Probability"], moved["ForecastCategoryName"], moved["IsClosed"]) == (90, "Commit", False)
    sf.Opportunity.update(deal["opportunity"], {"StageName": "Closed Won"})
    won = sf.Opportunity.get(deal["opportunity"])
    assert (won["IsClosed"], won["IsWon"], won["Probability"]) == (True, True, 100)
    history = [h for h in sim.records("OpportunityHistory") if h["OpportunityId"] == deal["opportunity"]]
    assert [h["StageName"] for h in history] == ["Proposal", "Contract Sent", "Closed Won"]
    assert history[1]["CreatedById"] == sim.admin_user_id and history[2]["CreatedById"] == sim.integration_user_id
    sim.update_record("Opportunity", deal["opportunity"], {"NextStep": "invoice"})  # no stage, amount or date
    assert len([h for h in sim.records("OpportunityHistory") if h["OpportunityId"] == deal["opportunity"]]) == 3
    with pytest.raises(SalesforceGeneralError) as undeletable:
        sf.OpportunityHistory.delete(history[0]["Id"])
    assert undeletable.value.status == 405


def test_one_primary_contact_role_per_opportunity(sf_org, sf):
    deal = make_deal(sf_org.sim, "Primary Deal")
    other = sf_org.sim.create_record("Contact", {"LastName": "Buyer", "Email": "buyer@example.com"})
    sf.OpportunityContactRole.create({"OpportunityId": deal["opportunity"], "ContactId": other,
                                      "Role": "Economic Buyer", "IsPrimary": True})
    roles = {r["ContactId"]: r["IsPrimary"] for r in sf_org.sim.records("OpportunityContactRole")
             if r["OpportunityId"] == deal["opportunity"]}
    assert roles == {deal["contact"]: False, other: True}


def test_task_defaults(sf_org, sf):
    deal = make_deal(sf_org.sim, "Task Deal")
    created = sf.Task.create({"WhatId": deal["opportunity"], "Subject": "Signed: Quote Q-1",
                              "ActivityDate": "2026-05-21", "Description": "All parties signed."})
    task = sf.Task.get(created["id"])
    assert (task["Status"], task["Priority"], task["IsClosed"], task["OwnerId"]) == (
        "Not Started", "Normal", False, sf_org.sim.integration_user_id)
    sf.Task.update(created["id"], {"Status": "Completed"})
    [on_deal] = sf_org.sim.tasks_on(deal["opportunity"])
    assert (on_deal["Subject"], on_deal["IsClosed"]) == ("Signed: Quote Q-1", True)


def test_request_level_errors(sf_org):
    bad_type = sf_org.rest("POST", "sobjects/Account/", data="Name=x", headers={"Content-Type": "text/plain"})
    assert bad_type.status_code == 415 and bad_type.json()[0]["errorCode"] == "UNSUPPORTED_MEDIA_TYPE"
    bad_json = sf_org.rest("POST", "sobjects/Account", data="{nope", headers={"Content-Type": "application/json"})
    assert bad_json.status_code == 400 and bad_json.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
    array = sf_org.rest("POST", "sobjects/Account", json=[{"Name": "x"}])
    assert array.status_code == 400 and array.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
    unknown = sf_org.rest("GET", "sobjects/Widget__c/describe")
    assert unknown.status_code == 404 and unknown.json() == [
        {"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}]
    assert unknown.headers["Content-Type"].startswith("application/json")
    wrong_method = sf_org.rest("PUT", "sobjects/Account/describe")
    assert wrong_method.status_code == 405 and wrong_method.json()[0]["errorCode"] == "METHOD_NOT_ALLOWED"
    newer = sf_org.session().get(f"{sf_org.url}/services/data/v62.0/limits",
                                 headers={"Authorization": f"Bearer {sf_org.token()}"}, timeout=5)
    assert newer.status_code == 404  # the org runs 59.0
    versions = sf_org.session().get(f"{sf_org.url}/services/data/", timeout=5).json()
    assert versions[-1]["version"] == "59.0"


def test_updated_and_deleted_feeds(sf_org, sf):
    start = datetime.now(UTC) - timedelta(minutes=2)
    deal = make_deal(sf_org.sim, "Feed Deal")
    sf_org.sim.delete_record("Opportunity", deal["opportunity"])
    end = datetime.now(UTC) + timedelta(minutes=2)
    assert deal["account"] in sf.Account.updated(start, end)["ids"]
    deleted = sf.Opportunity.deleted(start, end)
    assert deal["opportunity"] in [d["id"] for d in deleted["deletedRecords"]]
    with pytest.raises(SalesforceMalformedRequest) as too_old:
        sf.Account.updated(start - timedelta(days=31), end)
    assert _error(too_old)["errorCode"] == "INVALID_REPLICATION_DATE"


def test_injected_faults_fail_the_next_calls_then_clear(sf_org, sf):
    deal = make_deal(sf_org.sim, "Fault Deal")
    sf_org.sim.inject_fault("PATCH /sobjects/Opportunity/{id}", status=400, error_code="UNABLE_TO_LOCK_ROW",
                            message="unable to obtain exclusive access to this record", times=2)
    for _ in range(2):
        with pytest.raises(SalesforceMalformedRequest) as locked:
            sf.Opportunity.update(deal["opportunity"], {"NextStep": "retry"})
        assert _error(locked)["errorCode"] == "UNABLE_TO_LOCK_ROW"
    assert sf.Opportunity.get(deal["opportunity"])["NextStep"] is None  # the failed calls changed nothing
    assert sf.Opportunity.update(deal["opportunity"], {"NextStep": "retry"}) == 204
    sf_org.sim.inject_fault("/query")
    with pytest.raises(SalesforceGeneralError) as unavailable:
        sf.query("SELECT Id FROM User")
    assert unavailable.value.status == 503 and sf.query("SELECT Id FROM User")["done"] is True
