"""What the Salesforce side does when things go wrong: re-login, retries, permanent errors, secrets."""

from __future__ import annotations

import logging
from datetime import datetime

import pytest
import requests
import responses
from responses import matchers

from adapters.salesforce import build_crm, field_settings, queries
from adapters.salesforce.auth import SalesforceAuthenticator, SalesforceAuthError
from adapters.salesforce.errors import SalesforceProblem
from config.settings import Settings
from connector.ports.crm import CRMError, TaskEntry, Writeback
from tests.salesforce.wire import (
    API,
    CLIENT_ID,
    FRESH_TOKEN,
    LOGIN,
    OPP,
    PASSWORD,
    SECRET,
    SECURITY_TOKEN,
    TOKEN,
    TOKEN_URL,
    VERSION,
    Sleeps,
    bearer,
    make_crm,
    paths,
    sf_error,
    token_ok,
)

DOWNLOAD = f"{API}/sobjects/ContentVersion/{VERSION}/VersionData"
FIELDS_ONLY = Writeback(opportunity_id=OPP, fields={"Signing_Status__c": "Sent"})
UPDATED = {"compositeResponse": [{"body": None, "httpStatusCode": 204, "referenceId": "opportunity",
                                  "httpHeaders": {}}]}


@responses.activate
def test_expired_session_logs_in_exactly_once_more_and_repeats_the_call():
    token_ok()
    token_ok(FRESH_TOKEN)
    responses.get(DOWNLOAD, status=401, json=sf_error("INVALID_SESSION_ID", "Session expired or invalid"),
                  match=[matchers.header_matcher(bearer())])
    responses.get(DOWNLOAD, body=b"%PDF", match=[matchers.header_matcher(bearer(FRESH_TOKEN))])
    crm = make_crm()
    assert crm.download_file(VERSION).read_bytes() == b"%PDF"
    assert paths() == [TOKEN_URL, DOWNLOAD, TOKEN_URL, DOWNLOAD]
    assert crm.download_file(VERSION).read_bytes() == b"%PDF"  # the fresh session is kept
    assert paths(of="/token") == [TOKEN_URL, TOKEN_URL]


@responses.activate
def test_a_fresh_session_refused_again_is_reported_not_looped():
    token_ok()
    token_ok(FRESH_TOKEN)
    responses.get(DOWNLOAD, status=401, json=sf_error("INVALID_SESSION_ID", "Session expired or invalid"))
    with pytest.raises(CRMError) as refused:
        make_crm().download_file(VERSION)
    assert refused.value.code == "INVALID_SESSION_ID" and "session policies" in refused.value.message
    assert paths() == [TOKEN_URL, DOWNLOAD, TOKEN_URL, DOWNLOAD]


@responses.activate
def test_row_lock_is_retried_with_backoff_even_for_a_write():
    token_ok()
    locked = sf_error("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record")
    responses.post(f"{API}/composite", status=400, json=locked)
    responses.post(f"{API}/composite", json={"compositeResponse": [
        {"body": locked, "httpStatusCode": 400, "referenceId": "opportunity", "httpHeaders": {}}]})
    responses.post(f"{API}/composite", json=UPDATED)
    sleeps = Sleeps()
    make_crm(sleeps).apply(FIELDS_ONLY)
    assert len(paths(of="/composite")) == 3 and len(sleeps) == 2
    assert 0.5 <= sleeps[0] <= 1.0 and 1.0 <= sleeps[1] <= 1.5  # exponential, plus up to 0.5 s of jitter


@responses.activate
def test_server_errors_on_a_read_are_retried_a_bounded_number_of_times():
    token_ok()
    responses.get(DOWNLOAD, status=503, json=sf_error("SERVER_UNAVAILABLE", "busy"))
    sleeps = Sleeps()
    with pytest.raises(CRMError) as failed:
        make_crm(sleeps).download_file(VERSION)
    assert failed.value.retriable is True and failed.value.code == "SERVER_UNAVAILABLE"
    assert len(paths(of="/VersionData")) == 4 and len(sleeps) == 3
    assert all(wait <= 8.5 for wait in sleeps)


@responses.activate
def test_a_dropped_connection_on_a_read_is_retried():
    token_ok()
    responses.get(DOWNLOAD, body=requests.ConnectionError("reset by peer"))
    responses.get(DOWNLOAD, body=b"%PDF")
    assert make_crm().download_file(VERSION).read_bytes() == b"%PDF"


@responses.activate
def test_a_write_is_not_repeated_after_a_server_error_or_a_lost_reply():
    token_ok()
    responses.post(f"{API}/composite", status=503, json=sf_error("SERVER_UNAVAILABLE", "busy"))
    responses.post(f"{API}/composite", body=requests.ConnectionError("reset by peer"))
    crm = make_crm()
    for code in ("SERVER_UNAVAILABLE", "CONNECTION"):
        with pytest.raises(CRMError) as failed:
            crm.apply(FIELDS_ONLY)
        assert (failed.value.retriable, failed.value.code) == (True, code)
    assert len(paths(of="/composite")) == 2


@responses.activate
def test_invalid_field_in_a_composite_is_permanent_and_names_field_and_setting():
    token_ok()
    responses.post(f"{API}/composite", json={"compositeResponse": [
        {"body": sf_error("INVALID_FIELD", "No such column 'Signing_Status__c' on sobject of type X"),
         "httpStatusCode": 400, "referenceId": "opportunity", "httpHeaders": {}},
        {"body": sf_error("PROCESSING_HALTED", "rolled back"), "httpStatusCode": 400, "referenceId": "task0",
         "httpHeaders": {}}]})
    crm = make_crm(field_settings={"Signing_Status__c": "CONNECTOR_FIELD_STATUS"})
    with pytest.raises(CRMError) as failed:
        crm.apply(Writeback(opportunity_id=OPP, fields={"Signing_Status__c": "Sent"},
                            tasks=(TaskEntry("x"),)))
    assert (failed.value.retriable, failed.value.code) == (False, "INVALID_FIELD")
    assert failed.value.message.startswith(f"Salesforce refused the update of Opportunity {OPP}: "
                                           "INVALID_FIELD Signing_Status__c: No such column")
    assert "or set CONNECTOR_FIELD_STATUS to an existing field" in failed.value.message
    assert len(paths(of="/composite")) == 1


@pytest.mark.parametrize(("code", "hint"), [
    ("MALFORMED_QUERY", "stage names"), ("FIELD_CUSTOM_VALIDATION_EXCEPTION", "validation rule"),
    ("STRING_TOO_LONG", "lengthen Signing_Last_Error__c"), ("ENTITY_IS_DELETED", "recycle bin"),
])
@responses.activate
def test_permanent_errors_are_raised_at_once_with_what_to_do(code, hint):
    token_ok()
    responses.get(f"{API}/query/", status=400, json=sf_error(code, "refused", ["Signing_Last_Error__c"]))
    sleeps = Sleeps()
    with pytest.raises(CRMError) as failed:
        make_crm(sleeps).get_opportunity(OPP)
    assert (failed.value.retriable, failed.value.code) == (False, code)
    assert f"reading Opportunity {OPP}" in failed.value.message and hint in failed.value.message
    assert len(paths(of="/query/")) == 1 and sleeps == []


@responses.activate
def test_request_limit_exceeded_is_retriable_without_hammering():
    token_ok()
    responses.get(DOWNLOAD, status=403,
                  json=sf_error("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."))
    sleeps = Sleeps()
    with pytest.raises(CRMError) as refused:
        make_crm(sleeps).download_file(VERSION)
    assert (refused.value.retriable, refused.value.code) == (True, "REQUEST_LIMIT_EXCEEDED")
    assert len(paths(of="/VersionData")) == 1 and sleeps == []


def test_error_bodies_in_every_shape():
    listed = SalesforceProblem.from_body(sf_error("INVALID_FIELD", "No such column 'X__c' on entity"), 400)
    assert (listed.code, listed.fields) == ("INVALID_FIELD", ("X__c",))
    single = SalesforceProblem.from_body({"errorCode": "NOT_FOUND", "message": "gone"}, 404)
    assert (single.code, single.message) == ("NOT_FOUND", "gone")
    saved = SalesforceProblem.from_body(
        [{"statusCode": "DUPLICATES_DETECTED", "message": "dup", "fields": []}], 400)
    assert saved.code == "DUPLICATES_DETECTED"
    text = SalesforceProblem.from_body("<html>Bad gateway</html>", 502)
    assert (text.code, text.message, text.repeat_at_once) == ("HTTP_502", "<html>Bad gateway</html>", True)


@responses.activate
def test_api_usage_comes_from_the_limit_info_header():
    token_ok()
    responses.get(DOWNLOAD, body=b"%PDF", headers={"Sforce-Limit-Info": "api-usage=18/15000"})
    crm = make_crm()
    assert crm.api_usage is None
    crm.download_file(VERSION)
    assert (crm.api_usage, crm.api_calls) == ((18, 15000), 1)


def test_malformed_ids_never_reach_salesforce():
    crm = make_crm()
    for call in (lambda: crm.download_file("../../limits"), lambda: crm.get_opportunity("006' OR Id != '")):
        with pytest.raises(CRMError) as refused:
            call()
        assert (refused.value.code, refused.value.retriable) == ("MALFORMED_ID", False)


def test_soql_literals_are_escaped_and_datetimes_are_utc():
    assert queries.quote("It's a \\ back\nslash") == "'It\\'s a \\\\ back\\nslash'"
    assert queries.datetime_literal(datetime(2026, 1, 2, 3, 4, 5, 999)) == "2026-01-02T03:04:05Z"
    with pytest.raises(ValueError, match="not a Salesforce record Id"):
        queries.record_id("006xx000004TmiQAA'")
    with pytest.raises(ValueError):
        queries.tasks_with_subjects(OPP, [])


# --- logins and secrets ----------------------------------------------------------------------------


@responses.activate
def test_refused_logins_name_flow_and_code_but_never_a_secret(caplog):
    responses.post(TOKEN_URL, status=400, json={"error": "invalid_client",
                                                "error_description": f"invalid client credentials {SECRET}"})
    responses.post(TOKEN_URL, status=400, json={
        "error": "invalid_grant",
        "error_description": f"authentication failure for {PASSWORD}{SECURITY_TOKEN}"})
    responses.post(f"{LOGIN}/services/Soap/u/59.0", status=500, body=(
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:sf="urn:fault.partner.soap.sforce.com"><soapenv:Body><soapenv:Fault><faultcode>INVALID_LOGIN'
        "</faultcode><faultstring>INVALID_LOGIN: Invalid username</faultstring><detail><sf:LoginFault>"
        "<sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode><sf:exceptionMessage>Invalid username, password, "
        "security token; or user locked out.</sf:exceptionMessage></sf:LoginFault></detail></soapenv:Fault>"
        "</soapenv:Body></soapenv:Envelope>"))
    texts = []
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(SalesforceAuthError) as refused:
            make_crm().poll_opportunities(["Contract Sent"], None)
        assert "(client_credentials)" in refused.value.message
        assert "refused: invalid_client: invalid client credentials [redacted]" in refused.value.message
        texts.append(str(refused.value))
        for flow in ("password", "soap"):
            authenticator = SalesforceAuthenticator(login_url=LOGIN, flow=flow, client_id=CLIENT_ID,
                                                    client_secret=SECRET, username="int@acme.example",
                                                    password=PASSWORD, security_token=SECURITY_TOKEN)
            with pytest.raises(SalesforceAuthError) as refused:
                authenticator.login()
            assert f"({flow})" in refused.value.message and not refused.value.retriable
            texts += [str(refused.value), repr(refused.value), repr(authenticator)]
    assert "INVALID_LOGIN: Invalid username, password, security token; or user locked out." in texts[-3]
    for secret in (SECRET, PASSWORD, SECURITY_TOKEN):
        assert all(secret not in text for text in texts) and secret not in caplog.text


@responses.activate
def test_the_access_token_stays_out_of_logs_errors_and_reprs(caplog):
    token_ok()
    token_ok(FRESH_TOKEN)
    responses.get(DOWNLOAD, status=401, json=sf_error("INVALID_SESSION_ID", "Session expired or invalid"))
    responses.get(DOWNLOAD, status=400, json=sf_error("MALFORMED_ID", "bad id"))
    crm = make_crm()
    with caplog.at_level(logging.DEBUG), pytest.raises(CRMError) as failed:
        crm.download_file(VERSION)
    seen = [str(failed.value), repr(failed.value), caplog.text, repr(crm), repr(crm.client),
            repr(crm.client.authenticator), repr(crm.client.authenticator.login())]
    assert not [text for text in seen if TOKEN in text or FRESH_TOKEN in text or SECRET in text]


@responses.activate
def test_login_problems_that_time_will_fix_are_retriable():
    responses.post(TOKEN_URL, body=requests.ConnectionError("no route"))
    responses.post(TOKEN_URL, status=503, body="down")
    authenticator = SalesforceAuthenticator(login_url=LOGIN, flow="client_credentials", client_id=CLIENT_ID,
                                            client_secret=SECRET)
    for code in ("CONNECTION", "SERVER_ERROR"):
        with pytest.raises(CRMError) as failed:
            authenticator.login()
        assert (failed.value.code, failed.value.retriable) == (code, True)


def test_missing_or_unusable_credentials_name_the_setting(tmp_path):
    with pytest.raises(SalesforceAuthError, match="needs CONNECTOR_SALESFORCE_USERNAME"):
        SalesforceAuthenticator(login_url=LOGIN, flow="jwt", client_id=CLIENT_ID,
                                private_key_file="k").login()
    not_a_key = tmp_path / "key.pem"
    not_a_key.write_text("-----BEGIN PRIVATE KEY-----\nnot really\n-----END PRIVATE KEY-----\n")
    with pytest.raises(SalesforceAuthError, match="is not a PEM RSA private key") as refused:
        SalesforceAuthenticator(login_url=LOGIN, flow="jwt", client_id=CLIENT_ID, username="u",
                                private_key_file=not_a_key).login()
    assert "not really" not in refused.value.message


@responses.activate
def test_build_crm_from_settings():
    settings = Settings(_env_file=None, salesforce_login_url=LOGIN, salesforce_client_id=CLIENT_ID,
                        salesforce_client_secret=SECRET, salesforce_timeout_seconds=7.0)
    token_ok()
    responses.get(DOWNLOAD, body=b"%PDF")
    crm = build_crm(settings, session=requests.Session())
    assert crm.download_file(VERSION).read_bytes() == b"%PDF"
    assert responses.calls[1].request.req_kwargs["timeout"] == 7.0
    assert field_settings(settings)["Signing_Status__c"] == "CONNECTOR_FIELD_STATUS"
    assert crm.field_settings == field_settings(settings)
