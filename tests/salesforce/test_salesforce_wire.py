"""The exact HTTP requests the Salesforce side sends (login, poll, download, composite, checks)."""

from __future__ import annotations

import base64
import json
import logging
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlparse

import jwt
import pytest
import requests
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from responses import matchers

from connector.crm import CRMError, FileUpload, TaskEntry, Writeback
from connector.salesforce.auth import SalesforceAuthenticator, SalesforceAuthError
from connector.salesforce.client import SalesforceClient
from connector.salesforce.crm import SalesforceCRM

LOGIN = "https://acme.my.salesforce.com"
INSTANCE = "https://acme.my.salesforce.com"
API = f"{INSTANCE}/services/data/v59.0"
SECRET = "client-secret-value"
TOKEN = "00Dxx0000001gPL!AQ0AQtoken"
OPP = "006xx000004TmiQAAS"


def _token_ok(token: str = TOKEN):
    responses.post(f"{LOGIN}/services/oauth2/token", json={
        "access_token": token, "instance_url": INSTANCE, "id": "x", "token_type": "Bearer", "scope": "api"})


def crm(flow: str = "client_credentials", **kwargs) -> SalesforceCRM:
    auth = SalesforceAuthenticator(login_url=LOGIN, flow=flow, client_id="consumer-key", client_secret=SECRET,
                                   **kwargs)
    return SalesforceCRM(SalesforceClient(auth, session=requests.Session(), api_version="59.0", wait_initial=0))


def bearer(token: str = TOKEN) -> dict:
    return {"Authorization": f"Bearer {token}"}


@responses.activate
def test_client_credentials_token_request():
    responses.post(f"{LOGIN}/services/oauth2/token", match=[
        matchers.urlencoded_params_matcher({"grant_type": "client_credentials"}),
        matchers.header_matcher({"Authorization": "Basic " + base64.b64encode(
            f"consumer-key:{SECRET}".encode()).decode()})],
        json={"access_token": TOKEN, "instance_url": INSTANCE})
    session = SalesforceAuthenticator(login_url=LOGIN, flow="client_credentials", client_id="consumer-key",
                                      client_secret=SECRET).login()
    assert (session.access_token, session.instance_url) == (TOKEN, INSTANCE)
    assert TOKEN not in repr(session)


@responses.activate
def test_jwt_bearer_assertion_claims(tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "key.pem"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    responses.post("https://login.salesforce.com/services/oauth2/token", json={"access_token": TOKEN,
                                                                               "instance_url": INSTANCE})
    SalesforceAuthenticator(login_url="https://login.salesforce.com", flow="jwt", client_id="consumer-key",
                            username="int@acme.example", private_key_file=pem).login()
    form = parse_qs(responses.calls[-1].request.body)
    assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    claims = jwt.decode(form["assertion"][0], key.public_key(), algorithms=["RS256"],
                        audience="https://login.salesforce.com")
    assert (claims["iss"], claims["sub"]) == ("consumer-key", "int@acme.example")
    assert jwt.get_unverified_header(form["assertion"][0])["alg"] == "RS256"


@responses.activate
def test_soap_login_envelope_and_instance_url():
    responses.post(f"{LOGIN}/services/Soap/u/59.0", body=(
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns="urn:partner.soap.sforce.com"><soapenv:Body><loginResponse><result>'
        f"<serverUrl>{INSTANCE}/services/Soap/u/59.0/00Dxx</serverUrl><sessionId>{TOKEN}</sessionId>"
        "</result></loginResponse></soapenv:Body></soapenv:Envelope>"), match=[
        matchers.header_matcher({"SOAPAction": "login", "content-type": "text/xml"})])
    session = SalesforceAuthenticator(login_url=LOGIN, flow="soap", username="int@acme.example", password="pw<&",
                                      security_token="tok").login()
    body = responses.calls[0].request.body.decode()
    assert "<urn:username>int@acme.example</urn:username>" in body
    assert "<urn:password>pw&lt;&amp;tok</urn:password>" in body
    assert (session.access_token, session.instance_url) == (TOKEN, INSTANCE)


@responses.activate
def test_refused_login_names_the_code_but_no_secret(caplog):
    responses.post(f"{LOGIN}/services/oauth2/token", status=400,
                   json={"error": "invalid_client", "error_description": "invalid client credentials"})
    with caplog.at_level(logging.DEBUG), pytest.raises(SalesforceAuthError) as refused:
        crm().poll_opportunities(["Contract Sent"], None)
    assert "invalid_client: invalid client credentials" in str(refused.value)
    assert SECRET not in str(refused.value) and SECRET not in caplog.text


POLL_SOQL = (
    "SELECT Id, Name, StageName, SystemModstamp, LastStageChangeDate, OwnerId, Owner.Name, Owner.Email, AccountId, "
    "Account.Name, (SELECT ContactId, Role, IsPrimary, Contact.FirstName, Contact.LastName, Contact.Email, "
    "Contact.MobilePhone, Contact.Phone FROM OpportunityContactRoles ORDER BY IsPrimary DESC), "
    "(SELECT ContentDocumentId, ContentDocument.Title, ContentDocument.FileExtension, "
    "ContentDocument.LatestPublishedVersionId, ContentDocument.ContentSize FROM ContentDocumentLinks) "
    "FROM Opportunity WHERE StageName IN ('Contract Sent', 'It\\'s signed') "
    "AND SystemModstamp >= 2026-11-24T09:00:00Z ORDER BY SystemModstamp ASC, Id ASC")


def _opportunity_record(opp_id: str = OPP) -> dict:
    return {"attributes": {"type": "Opportunity"}, "Id": opp_id, "Name": "Acme", "StageName": "Contract Sent",
            "SystemModstamp": "2026-11-24T09:01:02.000+0000", "LastStageChangeDate": "2026-11-24T09:01:02.000+0000",
            "OwnerId": "005xx", "Owner": {"Name": "Rita", "Email": "rita@acme.example"}, "AccountId": None,
            "Account": None, "OpportunityContactRoles": {"totalSize": 2, "done": False, "records": [
                {"ContactId": "003a", "Role": "Decision Maker", "IsPrimary": True,
                 "Contact": {"FirstName": "Dana", "LastName": "Lee", "Email": "d@x.io", "MobilePhone": None,
                             "Phone": None}}], "nextRecordsUrl": "/services/data/v59.0/query/01gC-1"},
            "ContentDocumentLinks": None}


@responses.activate
def test_poll_query_wire_format_and_paging():
    _token_ok()
    responses.get(f"{API}/query/", match=[matchers.query_param_matcher({"q": POLL_SOQL}),
                                          matchers.header_matcher(bearer())],
                  json={"totalSize": 2, "done": False, "nextRecordsUrl": "/services/data/v59.0/query/01gA-1",
                        "records": [_opportunity_record()]})
    responses.get(f"{API}/query/01gA-1", json={"totalSize": 2, "done": True,
                                               "records": [{**_opportunity_record("006xx000004TmiRAAS"),
                                                            "OpportunityContactRoles": None}]})
    responses.get(f"{API}/query/01gC-1", json={"totalSize": 2, "done": True, "records": [
        {"ContactId": "003b", "Role": "Economic Buyer", "IsPrimary": False,
         "Contact": {"FirstName": "Eli", "LastName": "B", "Email": "e@x.io", "MobilePhone": "+1555", "Phone": None}}]})
    result = crm().poll_opportunities(["Contract Sent", "It's signed"], datetime(2026, 11, 24, 9, tzinfo=UTC))
    first, second = result.opportunities
    assert [r.role for r in first.contact_roles] == ["Decision Maker", "Economic Buyer"]
    assert first.stage_changed_at == datetime(2026, 11, 24, 9, 1, 2, tzinfo=UTC)
    assert second.contact_roles == () and first.files == ()
    assert result.api_calls == 3
    assert "q=SELECT+Id%2C+Name" in responses.calls[1].request.url  # spaces as +, like simple-salesforce


@responses.activate
def test_file_download_path():
    _token_ok()
    responses.get(f"{API}/sobjects/ContentVersion/068xx0000004CH6AAM/VersionData", body=b"%PDF-1.7 bytes",
                  match=[matchers.header_matcher(bearer())])
    assert crm().download_file("068xx0000004CH6AAM") == b"%PDF-1.7 bytes"


WRITEBACK = Writeback(
    opportunity_id=OPP,
    fields={"Signing_Status__c": "Completed", "Signing_Completed_At__c": datetime(2026, 11, 24, 9, 30, 1, 250000,
                                                                                   tzinfo=UTC),
            "Signing_Last_Error__c": None},
    files=(FileUpload("Quote - signed", "Quote - signed.pdf", b"%PDF signed"),),
    tasks=(TaskEntry("Signed: Quote (SignRequest r1)", "All signed."),),
)


@responses.activate
def test_writeback_is_one_all_or_none_composite(monkeypatch):
    import connector.salesforce.crm as crm_module

    class Today:
        @staticmethod
        def today():
            return datetime(2026, 11, 24).date()

    monkeypatch.setattr(crm_module, "date", Today)
    _token_ok()
    expected = {"allOrNone": True, "compositeRequest": [
        {"method": "POST", "url": "/services/data/v59.0/sobjects/ContentVersion", "referenceId": "file0",
         "body": {"Title": "Quote - signed", "PathOnClient": "Quote - signed.pdf", "FirstPublishLocationId": OPP,
                  "VersionData": base64.b64encode(b"%PDF signed").decode()}},
        {"method": "PATCH", "url": f"/services/data/v59.0/sobjects/Opportunity/{OPP}", "referenceId": "opportunity",
         "body": {"Signing_Status__c": "Completed", "Signing_Completed_At__c": "2026-11-24T09:30:01.250Z",
                  "Signing_Last_Error__c": None}},
        {"method": "POST", "url": "/services/data/v59.0/sobjects/Task", "referenceId": "task0",
         "body": {"WhatId": OPP, "Subject": "Signed: Quote (SignRequest r1)", "Description": "All signed.",
                  "Status": "Completed", "Priority": "Normal", "ActivityDate": "2026-11-24"}},
    ]}
    responses.post(f"{API}/composite", match=[matchers.json_params_matcher(expected, strict_match=True),
                                              matchers.header_matcher(bearer())],
                   json={"compositeResponse": [
                       {"body": {"id": "068new", "success": True, "errors": []}, "httpStatusCode": 201,
                        "referenceId": "file0", "httpHeaders": {}},
                       {"body": None, "httpStatusCode": 204, "referenceId": "opportunity", "httpHeaders": {}},
                       {"body": {"id": "00Tnew", "success": True, "errors": []}, "httpStatusCode": 201,
                        "referenceId": "task0", "httpHeaders": {}}]})
    result = crm().apply(WRITEBACK)
    assert (result.file_version_ids, result.task_ids) == (("068new",), ("00Tnew",))


@responses.activate
def test_large_file_goes_as_multipart_with_the_documented_parts():
    _token_ok()
    responses.post(f"{API}/sobjects/ContentVersion", json={"id": "068big", "success": True, "errors": []}, status=201)
    adapter = crm()
    adapter.multipart_threshold = 4
    adapter.apply(Writeback(opportunity_id=OPP, files=(FileUpload("Big", "big.pdf", b"%PDF-big"),)))
    request = responses.calls[1].request
    content_type = request.headers["Content-Type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    body = request.body
    assert b'name="entity_content"' in body and b"Content-Type: application/json" in body
    assert b'name="VersionData"; filename="big.pdf"' in body and b"%PDF-big" in body
    entity = json.loads(body.split(b"\r\n\r\n", 1)[1].split(b"\r\n--", 1)[0])
    assert entity == {"Title": "Big", "PathOnClient": "big.pdf", "FirstPublishLocationId": OPP}
    assert len(responses.calls) == 2  # token + upload; nothing else to write


@responses.activate
def test_missing_parts_queries():
    _token_ok()
    checksum = WRITEBACK.files[0].checksum
    files_soql = (f"SELECT Id, Checksum, Title FROM ContentVersion WHERE FirstPublishLocationId = '{OPP}' "
                  f"AND Checksum IN ('{checksum}')")
    tasks_soql = f"SELECT Id, Subject FROM Task WHERE WhatId = '{OPP}' AND Subject IN ('Signed: Quote (SignRequest r1)')"
    responses.get(f"{API}/query/", match=[matchers.query_param_matcher({"q": files_soql})],
                  json={"totalSize": 1, "done": True, "records": [{"Id": "068a", "Checksum": checksum, "Title": "x"}]})
    responses.get(f"{API}/query/", match=[matchers.query_param_matcher({"q": tasks_soql})],
                  json={"totalSize": 0, "done": True, "records": []})
    missing = crm().missing_parts(WRITEBACK)
    assert missing.files == () and missing.tasks == WRITEBACK.tasks and missing.fields == WRITEBACK.fields


@responses.activate
def test_expired_session_logs_in_once_more_and_repeats():
    _token_ok()
    _token_ok("00Dxx!fresh")
    responses.get(f"{API}/sobjects/ContentVersion/068a/VersionData", status=401,
                  json=[{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
    responses.get(f"{API}/sobjects/ContentVersion/068a/VersionData", body=b"%PDF",
                  match=[matchers.header_matcher(bearer("00Dxx!fresh"))])
    assert crm().download_file("068a") == b"%PDF"
    assert [urlparse(c.request.url).path for c in responses.calls].count("/services/oauth2/token") == 2


@responses.activate
def test_row_lock_is_retried_even_for_a_write():
    _token_ok()
    responses.post(f"{API}/composite", status=400, json=[{"message": "unable to obtain exclusive access",
                                                          "errorCode": "UNABLE_TO_LOCK_ROW"}])
    responses.post(f"{API}/composite", json={"compositeResponse": [
        {"body": None, "httpStatusCode": 204, "referenceId": "opportunity", "httpHeaders": {}}]})
    crm().apply(Writeback(opportunity_id=OPP, fields={"Signing_Status__c": "Sent"}))
    assert sum(1 for c in responses.calls if c.request.url.endswith("/composite")) == 2


@responses.activate
def test_a_write_is_not_retried_on_a_server_error():
    _token_ok()
    responses.post(f"{API}/composite", status=503, json=[{"message": "busy", "errorCode": "SERVER_UNAVAILABLE"}])
    with pytest.raises(CRMError) as failed:
        crm().apply(Writeback(opportunity_id=OPP, fields={"Signing_Status__c": "Sent"}))
    assert failed.value.retriable is True
    assert sum(1 for c in responses.calls if c.request.url.endswith("/composite")) == 1


@responses.activate
def test_invalid_field_in_a_composite_is_permanent_and_names_the_fix():
    _token_ok()
    responses.post(f"{API}/composite", json={"compositeResponse": [
        {"body": [{"message": "No such column", "errorCode": "INVALID_FIELD", "fields": ["Signing_Status__c"]}],
         "httpStatusCode": 400, "referenceId": "opportunity", "httpHeaders": {}},
        {"body": [{"message": "rolled back", "errorCode": "PROCESSING_HALTED"}], "httpStatusCode": 400,
         "referenceId": "task0", "httpHeaders": {}}]})
    with pytest.raises(CRMError) as failed:
        crm().apply(Writeback(opportunity_id=OPP, fields={"Signing_Status__c": "Sent"}, tasks=(TaskEntry("x"),)))
    assert failed.value.retriable is False and failed.value.code == "INVALID_FIELD"
    assert f"the update of Opportunity {OPP}: INVALID_FIELD" in failed.value.message
    assert "CONNECTOR_FIELD_*" in failed.value.message


@responses.activate
def test_request_limit_exceeded_is_retriable_without_hammering():
    _token_ok()
    responses.get(f"{API}/sobjects/ContentVersion/068a/VersionData", status=403,
                  json=[{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}])
    with pytest.raises(CRMError) as refused:
        crm().download_file("068a")
    assert refused.value.retriable is True and refused.value.code == "REQUEST_LIMIT_EXCEEDED"
    assert len(responses.calls) == 2  # the token and one refused call
