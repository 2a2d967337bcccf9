"""SOQL through the real simple-salesforce client: result shapes, filters, errors, paging, queryAll."""

from __future__ import annotations

import re

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceResourceNotFound

from sandbox.pdfgen import text_pdf
from tests.sandbox.salesforce_sim_support import DATETIME, make_deal


def _error(raised) -> str:
    return raised.value.content[0]["errorCode"]


def test_relationship_query_shape(sf_org, sf):
    deal = make_deal(sf_org.sim, "Shape Deal")
    version_id, document_id = sf_org.sim.attach_file(deal["opportunity"], "Quote Q-1", "Q-1.pdf", text_pdf([["Q"]]))
    bare = sf_org.sim.create_record("Opportunity", {"Name": "Shape Bare", "StageName": "Proposal",
                                                    "CloseDate": "2026-12-31"})
    result = sf.query(
        "SELECT Id, Name, Amount, CloseDate, SystemModstamp, LastStageChangeDate, Owner.Name, Account.Name, "
        "(SELECT ContactId, Role, IsPrimary, Contact.Email, Contact.Phone FROM OpportunityContactRoles "
        "ORDER BY IsPrimary DESC), "
        "(SELECT ContentDocumentId, ShareType, ContentDocument.Title, ContentDocument.LatestPublishedVersionId "
        "FROM ContentDocumentLinks) "
        f"FROM Opportunity WHERE Id IN ('{deal['opportunity']}', '{bare}') ORDER BY Name")
    assert (result["totalSize"], result["done"]) == (2, True) and "nextRecordsUrl" not in result
    empty, full = result["records"]  # "Shape Bare" sorts first
    assert empty["Account"] is None and empty["OpportunityContactRoles"] is None
    assert empty["ContentDocumentLinks"] is None and empty["LastStageChangeDate"] is None
    assert full["attributes"] == {"type": "Opportunity",
                                  "url": f"/services/data/v59.0/sobjects/Opportunity/{deal['opportunity']}"}
    assert full["Amount"] == 1000 and full["CloseDate"] == "2026-12-31"
    assert re.match(DATETIME, full["SystemModstamp"])
    assert full["Owner"]["attributes"]["type"] == "User" and full["Owner"]["Name"] == "Integration User"
    roles = full["OpportunityContactRoles"]
    assert (roles["totalSize"], roles["done"]) == (1, True) and "nextRecordsUrl" not in roles
    role = roles["records"][0]
    assert role["attributes"]["type"] == "OpportunityContactRole"
    assert role["Contact"] == {"attributes": {"type": "Contact", "url": f"/services/data/v59.0/sobjects/Contact/"
                                                                        f"{deal['contact']}"},
                               "Email": "ann@example.com", "Phone": None}
    [link] = full["ContentDocumentLinks"]["records"]
    assert link["ContentDocumentId"] == document_id and link["ShareType"] == "V"
    assert link["ContentDocument"]["Title"] == "Quote Q-1"
    assert link["ContentDocument"]["LatestPublishedVersionId"] == version_id


def test_field_keys_use_the_schema_case_and_select_order(sf_org, sf):
    deal = make_deal(sf_org.sim, "Case Deal")
    record = sf.query(f"select stagename, NAME, id, account.name from OPPORTUNITY where id = '{deal['opportunity']}'")
    assert list(record["records"][0]) == ["attributes", "StageName", "Name", "Id", "Account"]
    assert record["records"][0]["attributes"]["type"] == "Opportunity"


def test_where_operators(sf_org, sf):
    sim = sf_org.sim
    for name, amount, stage in (("Ops Alpha", 10, "Proposal"), ("Ops Beta", 20, "Negotiation"),
                                ("Ops_Gamma 100%", None, "Closed Won")):
        fields = {"Name": name, "StageName": stage, "CloseDate": "2026-06-30"}
        if amount is not None:
            fields["Amount"] = amount
        sim.create_record("Opportunity", fields)

    def names(where: str) -> list[str]:
        return [r["Name"] for r in sf.query(f"SELECT Name FROM Opportunity WHERE Name LIKE 'Ops%' AND {where} "
                                            "ORDER BY Name")["records"]]

    assert names("StageName NOT IN ('Proposal', 'Negotiation')") == ["Ops_Gamma 100%"]
    assert names("Amount != 10") == ["Ops Beta", "Ops_Gamma 100%"]  # SOQL's != keeps nulls
    assert names("Amount = null") == ["Ops_Gamma 100%"]
    assert names("(Amount > 15 OR IsWon = true)") == ["Ops Beta", "Ops_Gamma 100%"]
    assert names("NOT Name LIKE '%beta'") == ["Ops Alpha", "Ops_Gamma 100%"]
    assert names(r"Name LIKE 'Ops\_%\%'") == ["Ops_Gamma 100%"]
    assert names("stagename = 'PROPOSAL'") == ["Ops Alpha"]  # comparisons ignore case
    assert names("CloseDate = 2026-06-30 AND CreatedDate > 2000-01-01T02:00:00+02:00") == [
        "Ops Alpha", "Ops Beta", "Ops_Gamma 100%"]
    alpha = sim.records("Opportunity")[-3]["Id"]
    assert names(f"Id = '{alpha[:15]}'") == ["Ops Alpha"]  # a 15-character Id matches too


def test_order_by_puts_nulls_first_unless_told(sf_org, sf):
    for name, amount in (("Nulls A", 5), ("Nulls B", None), ("Nulls C", 7)):
        fields = {"Name": name, "StageName": "Proposal", "CloseDate": "2026-06-30"}
        if amount:
            fields["Amount"] = amount
        sf_org.sim.create_record("Opportunity", fields)

    def order(clause: str) -> list[str]:
        return [r["Name"] for r in sf.query(f"SELECT Name FROM Opportunity WHERE Name LIKE 'Nulls%' "
                                            f"ORDER BY {clause}")["records"]]

    assert order("Amount") == ["Nulls B", "Nulls A", "Nulls C"]
    assert order("Amount DESC") == ["Nulls B", "Nulls C", "Nulls A"]
    assert order("Amount DESC NULLS LAST") == ["Nulls C", "Nulls A", "Nulls B"]
    assert order("Name DESC LIMIT 2 OFFSET 1") == ["Nulls B", "Nulls A"]


@pytest.mark.parametrize(("soql", "code"), [
    ("SELECT Nope__c FROM Opportunity", "INVALID_FIELD"),
    ("SELECT Owner.Nope FROM Opportunity", "INVALID_FIELD"),
    ("SELECT Nobody.Name FROM Opportunity", "INVALID_FIELD"),
    ("SELECT Id, Name, id FROM Opportunity", "INVALID_FIELD"),
    ("SELECT Id FROM Widget__c", "INVALID_TYPE"),
    ("SELECT Id, (SELECT Id FROM Nothings) FROM Opportunity", "INVALID_TYPE"),
    ("SELECT Id FROM Opportunity WHERE CloseDate > 2024-01-01T00:00:00Z", "INVALID_FIELD"),
    ("SELECT Id FROM Opportunity WHERE SystemModstamp > 2024-01-01", "INVALID_FIELD"),
    ("SELECT Id FROM Opportunity WHERE SystemModstamp > '2024-01-01T00:00:00Z'", "INVALID_FIELD"),
    ("SELECT Id FROM Opportunity WHERE Amount = '5'", "INVALID_FIELD"),
    ("SELECT Id FROM Opportunity WHERE Name = 5", "INVALID_FIELD"),
    ("SELECT Id FROM Opportunity WHERE Id = 'not-an-id'", "INVALID_QUERY_FILTER_OPERATOR"),
    ("SELECT Id FROM Opportunity WHERE Amount LIKE '5%'", "INVALID_QUERY_FILTER_OPERATOR"),
    ("SELECT Id FROM Opportunity WHERE Signing_Last_Error__c = 'x'", "INVALID_FIELD"),
    ("SELECT Id FROM Opportunity ORDER BY Description", "INVALID_FIELD"),
    ("SELECT Id FROM Opportunity WHERE StageName = 'a' AND Name = 'b' OR Name = 'c'", "MALFORMED_QUERY"),
    ("SELECT Id FROM", "MALFORMED_QUERY"),
])
def test_query_errors(sf, soql, code):
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.query(soql)
    assert _error(raised) == code and raised.value.status == 400


def test_paging_with_batch_size_and_query_all(sf_org, sf):
    for n in range(450):
        sf_org.sim.create_record("Account", {"Name": f"Paged {n:03d}"})
    soql = "SELECT Id, Name FROM Account WHERE Name LIKE 'Paged%' ORDER BY Name"
    first = sf.query(soql, headers={"Sforce-Query-Options": "batchSize=200"})
    assert (first["totalSize"], len(first["records"]), first["done"]) == (450, 200, False)
    assert re.fullmatch(r"/services/data/v59\.0/query/01g\w{15}-200", first["nextRecordsUrl"])
    second = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert (len(second["records"]), second["done"]) == (200, False)
    assert second["records"][0]["Name"] == "Paged 200"
    locator = second["nextRecordsUrl"].rsplit("/", 1)[1]
    last = sf.query_more(locator)  # the locator alone works too
    assert (len(last["records"]), last["done"], "nextRecordsUrl" in last) == (50, True, False)
    with pytest.raises(SalesforceMalformedRequest) as spent:
        sf.query_more(locator)  # read to the end: the cursor is gone
    assert _error(spent) == "INVALID_QUERY_LOCATOR"

    sf_org.sim.reset_api_calls()
    everything = sf.query_all(soql, headers={"Sforce-Query-Options": "batchSize=50"})  # below 200: 200
    assert len(everything["records"]) == 450 and everything["records"][449]["Name"] == "Paged 449"
    assert sf_org.sim.api_calls == {"GET /query": 1, "GET /query/{locator}": 2}
    assert sf.query(soql)["done"] is True  # the default batch is 2,000


def test_child_rows_count_toward_the_batch_and_big_child_sets_page(sf_org, sf):
    deals = [make_deal(sf_org.sim, f"Crowded {n}") for n in range(2)]
    for deal in deals:
        for _ in range(249):
            sf_org.sim.create_record("OpportunityContactRole", {"OpportunityId": deal["opportunity"],
                                                                "ContactId": deal["contact"], "Role": "Influencer"})
    soql = ("SELECT Id, (SELECT Id, Role FROM OpportunityContactRoles) FROM Opportunity "
            "WHERE Name LIKE 'Crowded%' ORDER BY Name")
    page = sf.query(soql, headers={"Sforce-Query-Options": "batchSize=200"})
    assert (page["totalSize"], len(page["records"]), page["done"]) == (2, 1, False)  # 1 + 200 rows > 200
    children = page["records"][0]["OpportunityContactRoles"]
    assert (children["totalSize"], len(children["records"]), children["done"]) == (250, 200, False)
    rest = sf.query_more(children["nextRecordsUrl"], identifier_is_url=True)
    assert (len(rest["records"]), rest["done"]) == (50, True)
    assert {r["attributes"]["type"] for r in rest["records"]} == {"OpportunityContactRole"}


def test_deleted_records_only_in_query_all(sf_org, sf):
    deal = make_deal(sf_org.sim, "Binned Deal")
    assert sf.Opportunity.delete(deal["opportunity"]) == 204
    soql = f"SELECT Id, IsDeleted FROM Opportunity WHERE Id = '{deal['opportunity']}'"
    assert sf.query(soql)["totalSize"] == 0
    [binned] = sf.query_all(soql, include_deleted=True)["records"]
    assert binned["IsDeleted"] is True
    roles = f"SELECT Id FROM OpportunityContactRole WHERE OpportunityId = '{deal['opportunity']}'"
    assert sf.query(roles)["totalSize"] == 0 and sf.query(roles, include_deleted=True)["totalSize"] == 1
    with pytest.raises(SalesforceResourceNotFound) as read:
        sf.Opportunity.get(deal["opportunity"])
    assert _error(read) == "ENTITY_IS_DELETED"
    with pytest.raises(SalesforceMalformedRequest) as write:
        sf.Opportunity.update(deal["opportunity"], {"Name": "Back"})
    assert _error(write) == "ENTITY_IS_DELETED"


def test_content_document_link_needs_an_id_filter(sf_org, sf):
    deal = make_deal(sf_org.sim, "Linked Deal")
    _, document_id = sf_org.sim.attach_file(deal["opportunity"], "Quote", "quote.pdf", text_pdf([["Q"]]))
    for where in ("", " WHERE ShareType = 'V'", f" WHERE LinkedEntityId = '{deal['opportunity']}' OR ShareType = 'V'",
                  f" WHERE ContentDocumentId = '{document_id}' AND ContentDocument.FileExtension = 'pdf'"):
        with pytest.raises(SalesforceMalformedRequest) as refused:
            sf.query(f"SELECT Id FROM ContentDocumentLink{where}")
        assert _error(refused) == "MALFORMED_QUERY"
    by_record = sf.query("SELECT ContentDocumentId, ShareType, Visibility FROM ContentDocumentLink "
                         f"WHERE LinkedEntityId = '{deal['opportunity']}' AND ContentDocument.FileExtension = 'pdf'")
    assert [(r["ContentDocumentId"], r["ShareType"], r["Visibility"]) for r in by_record["records"]] == [
        (document_id, "V", "AllUsers")]
    by_document = sf.query(f"SELECT LinkedEntityId, ShareType FROM ContentDocumentLink "
                           f"WHERE ContentDocumentId IN ('{document_id}')")
    assert sorted((r["LinkedEntityId"][:3], r["ShareType"]) for r in by_document["records"]) == [
        ("005", "I"), ("006", "V")]  # the owner's own link and the record's


def test_version_data_in_soql_is_the_blob_url(sf_org, sf):
    deal = make_deal(sf_org.sim, "Blob Url Deal")
    version_id, _ = sf_org.sim.attach_file(deal["opportunity"], "Quote", "quote.pdf", text_pdf([["Q"]]))
    [row] = sf.query(f"SELECT VersionData, Checksum, IsLatest FROM ContentVersion WHERE Id = '{version_id}'")["records"]
    assert row["VersionData"] == f"/services/data/v59.0/sobjects/ContentVersion/{version_id}/VersionData"
    assert row["IsLatest"] is True and len(row["Checksum"]) == 32


def test_history_rows_are_queryable(sf_org, sf):
    deal = make_deal(sf_org.sim, "History Query Deal")
    sf_org.sim.set_stage(deal["opportunity"], "Contract Sent")
    rows = sf.query("SELECT StageName, PrevAmount, CreatedDate, Opportunity.Name FROM OpportunityHistory "
                    f"WHERE OpportunityId = '{deal['opportunity']}' ORDER BY CreatedDate")["records"]
    assert [r["StageName"] for r in rows] == ["Proposal", "Contract Sent"]
    assert rows[1]["PrevAmount"] == 1000 and rows[1]["Opportunity"]["Name"] == "History Query Deal"


def test_polymorphic_lookups_come_back_as_name_records(sf_org, sf):
    deal = make_deal(sf_org.sim, "Polymorphic Deal")
    sf_org.sim.create_record("Task", {"WhatId": deal["account"], "WhoId": deal["contact"], "Subject": "Poly A"})
    sf_org.sim.create_record("Task", {"WhatId": deal["opportunity"], "Subject": "Poly B"})
    rows = sf.query("SELECT Subject, What.Name, Who.Name FROM Task WHERE Subject LIKE 'Poly%' "
                    "ORDER BY Subject")["records"]
    assert [(r["What"]["attributes"]["type"], r["What"]["attributes"]["url"].split("/")[-2], r["What"]["Name"])
            for r in rows] == [("Name", "Account", "Polymorphic Deal Ltd"), ("Name", "Opportunity", "Polymorphic Deal")]
    assert rows[0]["Who"]["Name"] == "Ann Lee" and rows[1]["Who"] is None
    with pytest.raises(SalesforceMalformedRequest) as not_on_every_target:
        sf.query("SELECT What.Amount FROM Task")
    assert _error(not_on_every_target) == "INVALID_FIELD"
