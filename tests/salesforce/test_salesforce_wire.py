"""The exact HTTP requests the Salesforce side sends: logins, the poll, downloads, writebacks, checks."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qs, urlencode

import jwt
import pytest
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from responses import matchers

from adapters.salesforce.auth import SalesforceAuthenticator, jwt_audience
from adapters.salesforce.writes import multipart_boundary
from connector.ports.blobs import Blob, BlobWriter
from connector.ports.crm import ContactRole, FileRef, FileUpload, TaskEntry, Writeback
from tests.salesforce.wire import (
    API,
    CLIENT_ID,
    INSTANCE,
    LOGIN,
    OPP,
    PASSWORD,
    SECRET,
    SECURITY_TOKEN,
    TOKEN,
    TOKEN_URL,
    VERSION,
    bearer,
    make_crm,
    paths,
    token_ok,
)

# --- logins ----------------------------------------------------------------------------------------


@responses.activate
def test_client_credentials_posts_the_grant_with_basic_client_auth():
    basic = "Basic " + base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
    responses.post(TOKEN_URL, match=[matchers.urlencoded_params_matcher({"grant_type": "client_credentials"}),
                                     matchers.header_matcher({"Authorization": basic})],
                   json={"access_token": TOKEN, "instance_url": INSTANCE + "/"})
    session = SalesforceAuthenticator(login_url=LOGIN + "/", flow="client_credentials", client_id=CLIENT_ID,
                                      client_secret=SECRET).login()
    assert (session.access_token, session.instance_url) == (TOKEN, INSTANCE)
    assert TOKEN not in repr(session)


@responses.activate
def test_password_flow_sends_password_and_security_token_in_the_form():
    responses.post(TOKEN_URL, match=[matchers.urlencoded_params_matcher({
        "grant_type": "password", "client_id": CLIENT_ID, "client_secret": SECRET,
        "username": "int@acme.example", "password": PASSWORD + SECURITY_TOKEN})],
        json={"access_token": TOKEN, "instance_url": INSTANCE})
    SalesforceAuthenticator(login_url=LOGIN, flow="password", client_id=CLIENT_ID, client_secret=SECRET,
                            username="int@acme.example", password=PASSWORD,
                            security_token=SECURITY_TOKEN).login()
    assert "Authorization" not in responses.calls[0].request.headers


@pytest.mark.parametrize(("login_url", "audience"), [
    ("https://login.salesforce.com", "https://login.salesforce.com"),
    ("https://acme.my.salesforce.com", "https://login.salesforce.com"),
    ("https://test.salesforce.com", "https://test.salesforce.com"),
    ("https://acme--dev.sandbox.my.salesforce.com", "https://test.salesforce.com"),
    ("https://127.0.0.1:8443", "https://127.0.0.1:8443"),
])
def test_jwt_audience(login_url, audience):
    assert jwt_audience(login_url) == audience


@responses.activate
def test_jwt_bearer_assertion_is_rs256_with_the_documented_claims(tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "key.pem"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    responses.post("https://test.salesforce.com/services/oauth2/token",
                   json={"access_token": TOKEN, "instance_url": INSTANCE})
    SalesforceAuthenticator(login_url="https://test.salesforce.com", flow="jwt", client_id=CLIENT_ID,
                            username="int@acme.example", private_key_file=pem).login()
    form = parse_qs(responses.calls[0].request.body)
    assert set(form) == {"grant_type", "assertion"}
    assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    assertion = form["assertion"][0]
    assert jwt.get_unverified_header(assertion)["alg"] == "RS256"
    claims = jwt.decode(assertion, key.public_key(), algorithms=["RS256"],
                        audience="https://test.salesforce.com")
    assert (claims["iss"], claims["sub"], claims["aud"]) == (CLIENT_ID, "int@acme.example",
                                                             "https://test.salesforce.com")
    assert abs(claims["exp"] - (time.time() + 180)) < 5


SOAP_ENVELOPE = (
    '<?xml version="1.0" encoding="utf-8"?><env:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xmlns:env="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:partner.soap.sforce.com">'
    "<env:Header><urn:CallOptions><urn:client>esign-connector</urn:client></urn:CallOptions></env:Header>"
    "<env:Body><urn:login><urn:username>int@acme.example</urn:username>"
    "<urn:password>pw&lt;&amp;tok</urn:password></urn:login></env:Body></env:Envelope>"
)


@responses.activate
def test_soap_login_envelope_and_instance_url_from_server_url():
    responses.post(f"{LOGIN}/services/Soap/u/59.0", body=(
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns="urn:partner.soap.sforce.com"><soapenv:Body><loginResponse><result>'
        "<serverUrl>https://na15-api.salesforce.com:8443/services/Soap/u/59.0/00Dxx</serverUrl>"
        f"<sessionId>{TOKEN}</sessionId></result></loginResponse></soapenv:Body></soapenv:Envelope>"),
        match=[matchers.header_matcher({"SOAPAction": "login", "content-type": "text/xml",
                                        "charset": "UTF-8"})])
    session = SalesforceAuthenticator(login_url=LOGIN, flow="soap", username="int@acme.example",
                                      password="pw<&", security_token="tok").login()
    assert responses.calls[0].request.body.decode() == SOAP_ENVELOPE
    assert (session.access_token, session.instance_url) == (TOKEN, "https://na15.salesforce.com:8443")


PARIS = timezone(timedelta(hours=1))

# --- reading ---------------------------------------------------------------------------------------

POLL_SOQL = (
    "SELECT Id, Name, StageName, SystemModstamp, LastStageChangeDate, OwnerId, Owner.Name, Owner.Email, "
    "AccountId, Account.Name, (SELECT ContactId, Role, IsPrimary, Contact.FirstName, Contact.LastName, "
    "Contact.Email, Contact.MobilePhone, Contact.Phone "
    "FROM OpportunityContactRoles ORDER BY IsPrimary DESC), "
    "(SELECT ContentDocumentId, ContentDocument.Title, ContentDocument.FileExtension, "
    "ContentDocument.LatestPublishedVersionId, ContentDocument.ContentSize FROM ContentDocumentLinks) "
    "FROM Opportunity WHERE StageName IN ('Contract Sent', 'It\\'s \\\\ signed') "
    "AND SystemModstamp >= 2026-11-24T08:00:00Z ORDER BY SystemModstamp ASC, Id ASC")


def _contact_role(contact_id: str, role: str, primary: bool) -> dict:
    return {"attributes": {"type": "OpportunityContactRole"}, "ContactId": contact_id, "Role": role,
            "IsPrimary": primary, "Contact": {"attributes": {"type": "Contact"}, "FirstName": "Dana",
                                              "LastName": role, "Email": f"{contact_id}@x.io",
                                              "MobilePhone": "+15550100", "Phone": None}}


def _opportunity(opp_id: str = OPP, **overrides) -> dict:
    return {"attributes": {"type": "Opportunity"}, "Id": opp_id, "Name": "Acme", "StageName": "Contract Sent",
            "SystemModstamp": "2026-11-24T09:01:02.000+0000",
            "LastStageChangeDate": "2026-11-24T09:00:00.000+0000",
            "OwnerId": "005xx000001SwiUAAS", "Owner": {"Name": "Rita", "Email": "rita@acme.example"},
            "AccountId": None, "Account": None,
            "OpportunityContactRoles": {"totalSize": 2, "done": False,
                                        "records": [_contact_role("003a", "Decision Maker", True)],
                                        "nextRecordsUrl": "/services/data/v59.0/query/01gC-1"},
            "ContentDocumentLinks": {"totalSize": 1, "done": True, "records": [{
                "ContentDocumentId": "069xx0000004CH6AAM", "ContentDocument": {
                    "Title": "Quote Q-1", "FileExtension": "pdf", "LatestPublishedVersionId": VERSION,
                    "ContentSize": 48213}}]},
            **overrides}


@responses.activate
def test_poll_is_one_query_followed_through_its_pages_and_its_child_pages():
    token_ok()
    responses.get(f"{API}/query/", match=[matchers.query_param_matcher({"q": POLL_SOQL}),
                                          matchers.header_matcher(bearer())],
                  json={"totalSize": 2, "done": False, "nextRecordsUrl": "/services/data/v59.0/query/01gA-1",
                        "records": [_opportunity()]})
    responses.get(f"{API}/query/01gA-1", match=[matchers.header_matcher(bearer())], json={
        "totalSize": 2, "done": True, "records": [
            _opportunity("006xx000004TmiRAAS", OpportunityContactRoles=None, ContentDocumentLinks=None)]})
    responses.get(f"{API}/query/01gC-1", json={"totalSize": 2, "done": True, "records": [
        _contact_role("003b", "Economic Buyer", False)]})
    crm = make_crm()
    result = crm.poll_opportunities(["Contract Sent", "It's \\ signed"],
                                    datetime(2026, 11, 24, 9, tzinfo=PARIS))

    assert responses.calls[1].request.url == f"{API}/query/?" + urlencode({"q": POLL_SOQL})  # spaces as +
    assert paths() == [TOKEN_URL, f"{API}/query/", f"{API}/query/01gA-1", f"{API}/query/01gC-1"]
    assert result.api_calls == 3 and crm.api_calls == 3
    first, second = result.opportunities
    assert [(r.contact.contact_id, r.role, r.is_primary) for r in first.contact_roles] == [
        ("003a", "Decision Maker", True), ("003b", "Economic Buyer", False)]
    assert isinstance(first.contact_roles[0], ContactRole) and first.contact_roles[0].contact.phone is None
    assert first.files == (FileRef("069xx0000004CH6AAM", VERSION, "Quote Q-1", "pdf", 48213),)
    assert first.system_modstamp == datetime(2026, 11, 24, 9, 1, 2, tzinfo=UTC)
    assert first.stage_changed_at == datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    assert (first.owner_name, first.owner_email, first.account_name) == ("Rita", "rita@acme.example", None)
    assert second.contact_roles == () and second.files == ()


@responses.activate
def test_poll_without_modstamp_and_without_stages():
    token_ok()
    soql = POLL_SOQL.replace(" AND SystemModstamp >= 2026-11-24T08:00:00Z", "").replace(
        "'Contract Sent', 'It\\'s \\\\ signed'", "'Contract Sent'")
    responses.get(f"{API}/query/", match=[matchers.query_param_matcher({"q": soql})],
                  json={"totalSize": 0, "done": True, "records": []})
    crm = make_crm()
    assert crm.poll_opportunities(["Contract Sent"], None).opportunities == ()
    assert crm.poll_opportunities([], None).api_calls == 0
    assert len(responses.calls) == 2


@responses.activate
def test_the_fields_the_rules_need_join_the_same_poll_query():
    token_ok()
    soql = POLL_SOQL.replace("Account.Name, (SELECT", "Account.Name, Account.BillingCity, Amount, CloseDate, "
                             "RecordType.DeveloperName, (SELECT")
    responses.get(f"{API}/query/", match=[matchers.query_param_matcher({"q": soql})], json={
        "totalSize": 1, "done": True, "records": [_opportunity(
            OpportunityContactRoles=None, Amount=48000.0, CloseDate="2026-12-31", RecordType=None,
            Account={"Name": "Acme", "BillingCity": "Leeds"})]})
    crm = make_crm()
    [opportunity] = crm.poll_opportunities(
        ["Contract Sent", "It's \\ signed"], datetime(2026, 11, 24, 9, tzinfo=PARIS),
        ["Amount", "RecordType.DeveloperName", "Account.BillingCity", "CloseDate", "Account.Name", "amount"],
    ).opportunities
    assert opportunity.values == {"Account.BillingCity": "Leeds", "Amount": 48000.0, "CloseDate": "2026-12-31",
                                  "RecordType.DeveloperName": None, "Account.Name": "Acme", "amount": 48000.0}
    assert len(responses.calls) == 2


def test_a_field_path_that_is_not_one_never_reaches_soql():
    with pytest.raises(ValueError, match="not a field path"):
        make_crm().poll_opportunities(["Contract Sent"], None, ["Amount FROM User --"])


@responses.activate
def test_get_opportunity_by_id_and_absent():
    token_ok()
    soql = POLL_SOQL.split(" FROM Opportunity WHERE")[0] + f" FROM Opportunity WHERE Id = '{OPP}'"
    responses.get(f"{API}/query/", match=[matchers.query_param_matcher({"q": soql})],
                  json={"totalSize": 1, "done": True,
                        "records": [_opportunity(OpportunityContactRoles=None)]})
    responses.get(f"{API}/query/", json={"totalSize": 0, "done": True, "records": []})
    crm = make_crm()
    assert crm.get_opportunity(OPP).name == "Acme"
    assert crm.get_opportunity(OPP) is None


@responses.activate
def test_file_download_is_the_raw_version_data():
    token_ok()
    responses.get(f"{API}/sobjects/ContentVersion/{VERSION}/VersionData", body=b"%PDF-1.7 \x00\xff",
                  match=[matchers.header_matcher(bearer())])
    assert make_crm().download_file(VERSION).read_bytes() == b"%PDF-1.7 \x00\xff"
    assert responses.calls[1].request.req_kwargs["timeout"] == 12.5  # simple-salesforce sets none itself


@responses.activate
def test_a_file_download_past_the_spool_size_lands_in_a_temporary_file():
    token_ok()
    content = b"%PDF-1.7 " + bytes(range(256)) * 64
    responses.get(f"{API}/sobjects/ContentVersion/{VERSION}/VersionData", body=content,
                  match=[matchers.header_matcher(bearer())])
    blob = make_crm(spool_bytes=1000).download_file(VERSION)
    assert blob.path is not None and blob.size == len(content)
    assert blob.read_bytes() == content
    assert responses.calls[1].request.req_kwargs["stream"] is True


# --- writing ---------------------------------------------------------------------------------------

WRITEBACK = Writeback(
    opportunity_id=OPP,
    fields={"Signing_Status__c": "Completed",
            "Signing_Completed_At__c": datetime(2026, 11, 24, 9, 30, 1, 250000, tzinfo=UTC),
            "Signing_Last_Error__c": None},
    files=(FileUpload("Quote - signed", "Quote - signed.pdf", b"%PDF signed"),),
    tasks=(TaskEntry("Signed: Quote (SignRequest r1)", "All signed."),),
)

COMPOSITE = {"allOrNone": True, "compositeRequest": [
    {"method": "POST", "url": "/services/data/v59.0/sobjects/ContentVersion", "referenceId": "file0",
     "body": {"Title": "Quote - signed", "PathOnClient": "Quote - signed.pdf", "FirstPublishLocationId": OPP,
              "VersionData": base64.b64encode(b"%PDF signed").decode()}},
    {"method": "PATCH", "url": f"/services/data/v59.0/sobjects/Opportunity/{OPP}",
     "referenceId": "opportunity",
     "body": {"Signing_Status__c": "Completed", "Signing_Completed_At__c": "2026-11-24T09:30:01.250Z",
              "Signing_Last_Error__c": None}},
    {"method": "POST", "url": "/services/data/v59.0/sobjects/Task", "referenceId": "task0",
     "body": {"WhatId": OPP, "Subject": "Signed: Quote (SignRequest r1)", "Description": "All signed.",
              "Status": "Completed", "Priority": "Normal", "ActivityDate": "2026-11-24"}},
]}


@responses.activate
def test_writeback_is_one_all_or_none_composite():
    token_ok()
    responses.post(f"{API}/composite", match=[matchers.json_params_matcher(COMPOSITE, strict_match=True),
                                              matchers.header_matcher({**bearer(),
                                                                       "Content-Type": "application/json"})],
                   json={"compositeResponse": [
                       {"body": {"id": "068xx0000004NEWAAM", "success": True, "errors": []},
                        "httpStatusCode": 201, "referenceId": "file0", "httpHeaders": {}},
                       {"body": None, "httpStatusCode": 204, "referenceId": "opportunity", "httpHeaders": {}},
                       {"body": {"id": "00Txx0000004NEWAAM", "success": True, "errors": []},
                        "httpStatusCode": 201, "referenceId": "task0", "httpHeaders": {}}]})
    result = make_crm().apply(WRITEBACK)
    assert (result.file_version_ids, result.task_ids) == (("068xx0000004NEWAAM",), ("00Txx0000004NEWAAM",))
    assert paths() == [TOKEN_URL, f"{API}/composite"]


def _multipart_body(boundary: str, content: bytes) -> bytes:
    """The documented multipart ContentVersion body (reference §5.4) for the file 'big.pdf'."""
    entity = json.dumps({"Title": 'Big "one"', "PathOnClient": "big.pdf", "FirstPublishLocationId": OPP})
    return (f'--{boundary}\r\nContent-Disposition: form-data; name="entity_content"\r\n'
            f"Content-Type: application/json\r\n\r\n{entity}\r\n"
            f'--{boundary}\r\nContent-Disposition: form-data; name="VersionData"; filename="big.pdf"\r\n'
            f"Content-Type: application/pdf\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()


def _upload_big_file(content: bytes | Blob, **crm_options) -> tuple[responses.Call, tuple[str, ...]]:
    token_ok()
    responses.post(f"{API}/sobjects/ContentVersion", status=201,
                   json={"id": "068xx0000004BIGAAM", "success": True, "errors": []})
    responses.post(f"{API}/composite", json={"compositeResponse": [
        {"body": None, "httpStatusCode": 204, "referenceId": "opportunity", "httpHeaders": {}}]})
    result = make_crm(multipart_threshold=10, **crm_options).apply(
        Writeback(opportunity_id=OPP, fields={"Signing_Status__c": "Completed"},
                  files=(FileUpload("Big \"one\"", "big.pdf", content),)))
    assert paths() == [TOKEN_URL, f"{API}/sobjects/ContentVersion", f"{API}/composite"]
    assert "VersionData" not in json.dumps(json.loads(responses.calls[2].request.body))
    return responses.calls[1], result.file_version_ids


@responses.activate
def test_a_large_file_goes_first_as_multipart_with_the_documented_parts():
    content = b"%PDF-1.7\r\n\x00 big"
    call, version_ids = _upload_big_file(content)

    request = call.request
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    content_type = request.headers["Content-Type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    boundary = content_type.split("boundary=", 1)[1]
    # Streamed piece by piece, with its length given up front (Content-Length, not chunked).
    assert b"".join(request.body) == _multipart_body(boundary, content)
    assert request.headers["Content-Length"] == str(len(_multipart_body(boundary, content)))
    assert "Transfer-Encoding" not in request.headers
    assert len(boundary) <= 70
    assert version_ids == ("068xx0000004BIGAAM",)


@responses.activate
def test_a_file_on_disk_is_streamed_as_the_same_multipart_bytes():
    content = b"%PDF-1.7\r\n" + bytes(range(256)) * 40
    on_disk = BlobWriter(spool_bytes=100).write_all([content[:5000], content[5000:]])
    assert on_disk.path is not None
    call, _ = _upload_big_file(on_disk)
    boundary = call.request.headers["Content-Type"].split("boundary=", 1)[1]
    assert b"".join(call.request.body) == _multipart_body(boundary, content)
    assert call.request.headers["Content-Length"] == str(len(_multipart_body(boundary, content)))


def test_the_boundary_avoids_a_value_found_in_the_file_even_across_chunks(monkeypatch):
    content = b"x" * (1024 * 1024 - 6) + b"connector-" + b"a" * 32 + b" tail"
    taken = iter(["a" * 32, "b" * 32])
    monkeypatch.setattr("adapters.salesforce.writes.uuid.uuid4", lambda: type("U", (), {"hex": next(taken)}))
    on_disk = BlobWriter(spool_bytes=0).write_all([content])
    assert multipart_boundary(FileUpload("Big", "big.pdf", on_disk)) == "connector-" + "b" * 32


@responses.activate
def test_missing_parts_asks_for_checksums_and_subjects_once_each():
    token_ok()
    checksum = WRITEBACK.files[0].checksum
    files_soql = ("SELECT Id, Checksum, Title FROM ContentVersion "
                  f"WHERE FirstPublishLocationId = '{OPP}' AND Checksum IN ('{checksum}')")
    tasks_soql = ("SELECT Id, Subject FROM Task "
                  f"WHERE WhatId = '{OPP}' AND Subject IN ('Signed: Quote (SignRequest r1)')")
    responses.get(f"{API}/query/", match=[matchers.query_param_matcher({"q": files_soql})], json={
        "totalSize": 1, "done": True, "records": [{"Id": VERSION, "Checksum": checksum, "Title": "x"}]})
    responses.get(f"{API}/query/", match=[matchers.query_param_matcher({"q": tasks_soql})],
                  json={"totalSize": 0, "done": True, "records": []})
    crm = make_crm()
    missing = crm.missing_parts(WRITEBACK)
    assert missing.files == () and missing.tasks == WRITEBACK.tasks and missing.fields == WRITEBACK.fields
    assert crm.missing_parts(Writeback(opportunity_id=OPP, fields={"A__c": 1})).fields == {"A__c": 1}
    assert len(responses.calls) == 3  # token + two queries; nothing to ask about the second time


@responses.activate
def test_the_opportunities_a_batch_of_change_events_names_are_read_in_one_query():
    token_ok()
    other = "006xx000004TmiRAAS"
    soql = (POLL_SOQL.split(" FROM Opportunity WHERE")[0]
            + f" FROM Opportunity WHERE Id IN ('{OPP}', '{other}') ORDER BY SystemModstamp ASC, Id ASC")
    responses.get(f"{API}/query/", match=[matchers.query_param_matcher({"q": soql})],
                  json={"totalSize": 1, "done": True, "records": [_opportunity(OpportunityContactRoles=None)]})
    found = make_crm().get_opportunities([OPP, other, OPP])
    assert [o.id for o in found] == [OPP]
    assert len(responses.calls) == 2  # the login, and one query


@responses.activate
def test_the_token_reply_says_which_org_the_session_is_in():
    responses.post(TOKEN_URL, json={"access_token": TOKEN, "instance_url": INSTANCE,
                                    "id": f"{LOGIN}/id/00Dxx0000001gPLEAY/005xx000001SwiUAAS"})
    session = SalesforceAuthenticator(login_url=LOGIN, flow="client_credentials", client_id=CLIENT_ID,
                                      client_secret=SECRET).login()
    assert session.org_id == "00Dxx0000001gPLEAY"
