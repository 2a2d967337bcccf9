"""The exact requests `SalesforceCRM.apply_many` sends: several opportunities' writebacks per Composite call."""

from __future__ import annotations

import base64
import json

import requests
import responses
from responses import matchers

from connector.ports.crm import CRMError, FileUpload, TaskEntry, Writeback, WritebackResult
from tests.salesforce.wire import API, OPP, TOKEN_URL, bearer, make_crm, paths, sf_error, token_ok

OPP2 = "006xx000004TmiRAAS"
OPP3 = "006xx000004TmiSAAS"
BASE = "/services/data/v59.0/sobjects"
SENT = Writeback(opportunity_id=OPP, fields={"Signing_Status__c": "Sent"}, tasks=(TaskEntry("Sent: Q", "to Ann"),))
DONE = Writeback(opportunity_id=OPP2, fields={"Signing_Status__c": "Completed"},
                 files=(FileUpload("Q - signed", "Q - signed.pdf", b"%PDF signed"),))
FAILED = Writeback(opportunity_id=OPP3, fields={"Signing_Status__c": "Error"})


def _sent(prefix: str) -> list[dict]:
    return [
        {"method": "PATCH", "url": f"{BASE}/Opportunity/{OPP}", "referenceId": f"{prefix}_opportunity",
         "body": {"Signing_Status__c": "Sent"}},
        {"method": "POST", "url": f"{BASE}/Task", "referenceId": f"{prefix}_task0",
         "body": {"WhatId": OPP, "Subject": "Sent: Q", "Description": "to Ann", "Status": "Completed",
                  "Priority": "Normal", "ActivityDate": "2026-11-24"}},
    ]


def _done(prefix: str) -> list[dict]:
    return [
        {"method": "POST", "url": f"{BASE}/ContentVersion", "referenceId": f"{prefix}_file0",
         "body": {"Title": "Q - signed", "PathOnClient": "Q - signed.pdf", "FirstPublishLocationId": OPP2,
                  "VersionData": base64.b64encode(b"%PDF signed").decode()}},
        {"method": "PATCH", "url": f"{BASE}/Opportunity/{OPP2}", "referenceId": f"{prefix}_opportunity",
         "body": {"Signing_Status__c": "Completed"}},
    ]


def _failed(prefix: str) -> list[dict]:
    return [{"method": "PATCH", "url": f"{BASE}/Opportunity/{OPP3}", "referenceId": f"{prefix}_opportunity",
             "body": {"Signing_Status__c": "Error"}}]


def _composite(subrequests: list[dict], results: list[dict]) -> None:
    responses.post(f"{API}/composite",
                   match=[matchers.json_params_matcher({"allOrNone": True, "compositeRequest": subrequests},
                                                       strict_match=True),
                          matchers.header_matcher({**bearer(), "Content-Type": "application/json"})],
                   json={"compositeResponse": results})


def _ok(reference: str, record_id: str | None = None) -> dict:
    if record_id is None:
        return {"body": None, "httpStatusCode": 204, "referenceId": reference, "httpHeaders": {}}
    return {"body": {"id": record_id, "success": True, "errors": []}, "httpStatusCode": 201,
            "referenceId": reference, "httpHeaders": {}}


def _refused(reference: str, body: list[dict]) -> dict:
    return {"body": body, "httpStatusCode": 400, "referenceId": reference, "httpHeaders": {}}


HALTED = sf_error("PROCESSING_HALTED", "The transaction was rolled back since another operation in the same "
                                       "transaction failed.")


@responses.activate
def test_writebacks_to_several_opportunities_share_one_all_or_none_composite():
    token_ok()
    _composite(_sent("w0") + _done("w1") + _failed("w2"), [
        _ok("w0_opportunity"), _ok("w0_task0", "00Txx0000004T01AAA"), _ok("w1_file0", "068xx0000004F01AAA"),
        _ok("w1_opportunity"), _ok("w2_opportunity")])

    results = make_crm().apply_many([SENT, DONE, FAILED])

    assert results == [WritebackResult(task_ids=("00Txx0000004T01AAA",)),
                       WritebackResult(file_version_ids=("068xx0000004F01AAA",)), WritebackResult()]
    assert paths() == [TOKEN_URL, f"{API}/composite"]


@responses.activate
def test_a_refused_writeback_fails_alone_with_the_single_path_error_and_the_others_go_again():
    token_ok()
    _composite(_sent("w0") + _done("w1") + _failed("w2"), [
        _refused("w0_opportunity", HALTED), _refused("w0_task0", HALTED), _refused("w1_file0", HALTED),
        _refused("w1_opportunity", sf_error("INVALID_FIELD", "No such column 'Signing_Status__c' on Opportunity")),
        _refused("w2_opportunity", HALTED)])
    _composite(_sent("w0") + _failed("w2"), [
        _ok("w0_opportunity"), _ok("w0_task0", "00Txx0000004T01AAA"), _ok("w2_opportunity")])
    crm = make_crm(field_settings={"Signing_Status__c": "CONNECTOR_FIELD_STATUS"})

    sent, done, failed = crm.apply_many([SENT, DONE, FAILED])

    assert sent == WritebackResult(task_ids=("00Txx0000004T01AAA",)) and failed == WritebackResult()
    assert isinstance(done, CRMError) and (done.retriable, done.code) == (False, "INVALID_FIELD")
    assert done.message.startswith(f"Salesforce refused the update of Opportunity {OPP2}: INVALID_FIELD "
                                   "Signing_Status__c: No such column")
    assert "or set CONNECTOR_FIELD_STATUS to an existing field" in done.message
    assert paths() == [TOKEN_URL, f"{API}/composite", f"{API}/composite"]


@responses.activate
def test_a_row_lock_sends_that_writeback_alone_where_the_lock_is_waited_out():
    token_ok()
    locked = sf_error("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record")
    _composite(_sent("w0") + _failed("w1"), [
        _refused("w0_opportunity", HALTED), _refused("w0_task0", HALTED), _refused("w1_opportunity", locked)])
    _composite(_failed("w1"), [_refused("w1_opportunity", locked)])
    _composite(_failed("w1"), [_ok("w1_opportunity")])
    _composite(_sent("w0"), [_ok("w0_opportunity"), _ok("w0_task0", "00Txx0000004T01AAA")])

    sent, failed = make_crm().apply_many([SENT, FAILED])

    assert (sent, failed) == (WritebackResult(task_ids=("00Txx0000004T01AAA",)), WritebackResult())
    assert len(paths(of="/composite")) == 4


@responses.activate
def test_one_call_for_each_25_subrequests_and_never_two_writebacks_to_one_opportunity():
    token_ok()
    many = [Writeback(opportunity_id=f"006xx000004Tm{n:02d}AAS", fields={"Signing_Status__c": "Sent"},
                      tasks=(TaskEntry(f"Sent {n}"),)) for n in range(13)]
    responses.post(f"{API}/composite", json={"compositeResponse": [
        _ok(f"w{n}_{kind}", "00Txx0000004T01AAA" if kind == "task0" else None)
        for n in range(12) for kind in ("opportunity", "task0")]})
    responses.post(f"{API}/composite", json={"compositeResponse": [
        _ok("w12_opportunity"), _ok("w12_task0", "00Txx0000004T01AAA"),
        _ok("w13_opportunity"), _ok("w13_task0", "00Txx0000004T01AAA")]})
    again = Writeback(opportunity_id=many[12].opportunity_id, fields={"Signing_Status__c": "Completed"})
    responses.post(f"{API}/composite", json={"compositeResponse": [_ok("w14_opportunity")]})

    results = make_crm().apply_many([*many, Writeback(opportunity_id=OPP, fields={"Signing_Status__c": "Sent"},
                                                      tasks=(TaskEntry("Sent 13"),)), again])

    assert all(isinstance(r, WritebackResult) for r in results) and len(results) == 15
    sizes = [len(json.loads(responses.calls[i].request.body)["compositeRequest"]) for i in (1, 2, 3)]
    assert sizes == [24, 4, 1]


@responses.activate
def test_inline_files_beyond_one_body_go_in_separate_calls_and_big_ones_as_multipart_first():
    token_ok()
    small = Writeback(opportunity_id=OPP2, files=(FileUpload("Q - signed", "Q - signed.pdf", b"%PDF signed"),),
                      fields={"Signing_Status__c": "Completed"})
    other = Writeback(opportunity_id=OPP3, files=(FileUpload("R", "R.pdf", b"%PDF other!"),))
    big = Writeback(opportunity_id=OPP, fields={"Signing_Status__c": "Sent"},
                    files=(FileUpload("Big", "big.pdf", b"%PDF" + b"x" * 40),), tasks=(TaskEntry("Sent: Q", "to Ann"),))
    responses.post(f"{API}/sobjects/ContentVersion", status=201,
                   json={"id": "068xx0000004BIGAAM", "success": True, "errors": []})
    _composite(_sent("w0") + _done("w1"), [
        _ok("w0_opportunity"), _ok("w0_task0", "00Txx0000004T01AAA"), _ok("w1_file0", "068xx0000004F01AAA"),
        _ok("w1_opportunity")])
    _composite([{"method": "POST", "url": f"{BASE}/ContentVersion", "referenceId": "w2_file0",
                 "body": {"Title": "R", "PathOnClient": "R.pdf", "FirstPublishLocationId": OPP3,
                          "VersionData": base64.b64encode(b"%PDF other!").decode()}}],
               [_ok("w2_file0", "068xx0000004F02AAA")])

    crm = make_crm(multipart_threshold=12)
    crm.batch_inline_bytes = 12  # one call's inline files: scaled down with the per-writeback size
    results = crm.apply_many([big, small, other])

    assert results == [WritebackResult(file_version_ids=("068xx0000004BIGAAM",), task_ids=("00Txx0000004T01AAA",)),
                       WritebackResult(file_version_ids=("068xx0000004F01AAA",)),
                       WritebackResult(file_version_ids=("068xx0000004F02AAA",))]
    assert paths() == [TOKEN_URL, f"{API}/sobjects/ContentVersion", f"{API}/composite", f"{API}/composite"]


@responses.activate
def test_a_lost_reply_gives_every_writeback_its_own_retriable_error_and_is_not_repeated():
    token_ok()
    responses.post(f"{API}/composite", body=requests.ConnectionError("reset by peer"))

    results = make_crm().apply_many([SENT, DONE])

    assert all(isinstance(r, CRMError) and (r.retriable, r.code) == (True, "CONNECTION") for r in results)
    assert results[0] is not results[1]
    assert len(paths(of="/composite")) == 1


@responses.activate
def test_a_malformed_id_fails_only_its_own_writeback_before_any_call():
    token_ok()
    _composite(_sent("w0") + _failed("w2"), [
        _ok("w0_opportunity"), _ok("w0_task0", "00Txx0000004T01AAA"), _ok("w2_opportunity")])

    sent, bad, failed = make_crm().apply_many([SENT, Writeback(opportunity_id="nope'--"), FAILED])

    assert isinstance(bad, CRMError) and bad.code == "MALFORMED_ID"
    assert isinstance(sent, WritebackResult) and isinstance(failed, WritebackResult)
