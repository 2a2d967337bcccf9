"""Salesforce Files through the real client: JSON and multipart uploads, downloads, versions, links."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
import urllib3
from simple_salesforce.exceptions import SalesforceGeneralError, SalesforceMalformedRequest

from sandbox.pdfgen import text_pdf
from sandbox.salesforce_sim import files
from tests.sandbox.salesforce_sim_support import make_deal


@pytest.fixture(scope="module")
def opportunity(sf_org):
    return make_deal(sf_org.sim, "Files Deal")["opportunity"]


def _multipart(fields: dict, content: bytes, *, name: str = "VersionData", filename: str = "evidence.pdf"):
    return urllib3.encode_multipart_formdata([
        ("entity_content", ("", json.dumps(fields), "application/json")),
        (name, (filename, content, "application/pdf")),
    ])


def test_json_upload_then_download(sf_org, sf, opportunity):
    pdf = text_pdf([["Contract Q-1001", "signed"]])
    created = sf.ContentVersion.create({"Title": "Contract Q-1001 (signed)", "PathOnClient": "Q-1001-signed.PDF",
                                        "VersionData": base64.b64encode(pdf).decode(),
                                        "FirstPublishLocationId": opportunity, "Description": "via SignRequest"})
    assert created["success"] is True and created["id"].startswith("068")
    assert sf.ContentVersion.get_base64(created["id"], base64_field="VersionData") == pdf
    version = sf.ContentVersion.get(created["id"])
    assert (version["Checksum"], version["ContentSize"], version["FileExtension"], version["FileType"]) == (
        hashlib.md5(pdf).hexdigest(), len(pdf), "pdf", "PDF")
    assert (version["IsLatest"], version["VersionNumber"], version["FirstPublishLocationId"]) == (
        True, "1", opportunity)
    assert version["VersionData"].endswith(f"/ContentVersion/{created['id']}/VersionData")
    document = sf.ContentDocument.get(version["ContentDocumentId"])
    assert (document["Title"], document["LatestPublishedVersionId"], document["ContentSize"]) == (
        "Contract Q-1001 (signed)", created["id"], len(pdf))
    [on_deal] = [f for f in sf_org.sim.files_on(opportunity) if f["version_id"] == created["id"]]
    assert (on_deal["content"], on_deal["filename"], on_deal["document_id"]) == (
        pdf, "Q-1001-signed.PDF", version["ContentDocumentId"])


def test_multipart_upload(sf_org, sf, opportunity):
    content = text_pdf([["Audit trail"]]) + b"\r\n--not-the-boundary\r\n"
    body, content_type = _multipart({"Title": "Evidence Q-1001", "PathOnClient": "Q-1001-audit.pdf",
                                     "FirstPublishLocationId": opportunity}, content)
    uploaded = sf.restful("sobjects/ContentVersion", method="POST", data=body, headers={"Content-Type": content_type})
    assert uploaded == {"id": uploaded["id"], "success": True, "errors": []}
    assert sf.ContentVersion.get_base64(uploaded["id"], base64_field="VersionData") == content
    assert "Evidence Q-1001" in {f["title"] for f in sf_org.sim.files_on(opportunity)}


def _broken_bodies() -> dict[str, tuple[bytes, str]]:
    fields = json.dumps({"Title": "x", "PathOnClient": "x.pdf"}).encode()
    good, content_type = _multipart({"Title": "x", "PathOnClient": "x.pdf"}, b"%PDF-1.4")
    boundary = content_type.split("boundary=")[1]

    def parts(*chunks: bytes, end: bytes = b"--b--\r\n") -> bytes:
        return b"".join(b"--b\r\n" + chunk + b"\r\n" for chunk in chunks) + end

    json_part = b'Content-Disposition: form-data; name="entity_content"\r\nContent-Type: application/json\r\n\r\n' + fields
    blob_part = (b'Content-Disposition: form-data; name="VersionData"; filename="x.pdf"\r\n'
                 b"Content-Type: application/pdf\r\n\r\n%PDF-1.4")
    return {
        "no boundary": (good, "multipart/form-data"),
        "boundary over 70": (good, "multipart/form-data; boundary=" + "b" * 71),
        "no closing delimiter": (good.replace(f"--{boundary}--".encode(), b""), content_type),
        "blank line missing": (parts(json_part, blob_part.replace(b"\r\n\r\n", b"\r\n")),
                               "multipart/form-data; boundary=b"),
        "part without content type": (parts(json_part.replace(b"Content-Type: application/json\r\n", b""),
                                            blob_part), "multipart/form-data; boundary=b"),
        "binary part misnamed": (parts(json_part, blob_part.replace(b'name="VersionData"', b'name="file"')),
                                 "multipart/form-data; boundary=b"),
        "binary part without filename": (parts(json_part, blob_part.replace(b'; filename="x.pdf"', b"")),
                                         "multipart/form-data; boundary=b"),
        "only one part": (parts(json_part), "multipart/form-data; boundary=b"),
        "three parts": (parts(json_part, blob_part, blob_part), "multipart/form-data; boundary=b"),
        "first part not json": (parts(json_part.replace(b"application/json", b"text/plain"), blob_part),
                                "multipart/form-data; boundary=b"),
    }


@pytest.mark.parametrize("case", sorted(_broken_bodies()))
def test_malformed_multipart_is_refused(sf, case):
    body, content_type = _broken_bodies()[case]
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.restful("sobjects/ContentVersion", method="POST", data=body, headers={"Content-Type": content_type})
    assert refused.value.content[0]["errorCode"] == "INVALID_MULTIPART_REQUEST"


def test_upload_field_rules(sf, opportunity, monkeypatch):
    data = base64.b64encode(b"%PDF-1.4 tiny").decode()
    with pytest.raises(SalesforceMalformedRequest) as no_path:
        sf.ContentVersion.create({"Title": "No path", "VersionData": data})
    assert no_path.value.content[0] == {"message": "Required fields are missing: [PathOnClient]",
                                        "errorCode": "REQUIRED_FIELD_MISSING", "fields": ["PathOnClient"]}
    with pytest.raises(SalesforceMalformedRequest) as no_data:
        sf.ContentVersion.create({"PathOnClient": "empty.pdf"})
    assert no_data.value.content[0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    with pytest.raises(SalesforceMalformedRequest) as not_base64:
        sf.ContentVersion.create({"PathOnClient": "x.pdf", "VersionData": "%%% not base64 %%%"})
    assert not_base64.value.content[0]["errorCode"] == "JSON_PARSER_ERROR"
    with pytest.raises(SalesforceMalformedRequest) as computed:
        sf.ContentVersion.create({"PathOnClient": "x.pdf", "VersionData": data, "Checksum": "abc"})
    assert computed.value.content[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    monkeypatch.setattr(files, "MAX_INLINE_BASE64", 16)  # stands for 37.5 MB without sending 50 MB
    with pytest.raises(SalesforceMalformedRequest) as too_big:
        sf.ContentVersion.create({"PathOnClient": "big.pdf", "VersionData": data,
                                  "FirstPublishLocationId": opportunity})
    assert too_big.value.content[0]["errorCode"] == "STRING_TOO_LONG"


def test_new_version_of_an_existing_document(sf_org, sf, opportunity):
    first, document_id = sf_org.sim.attach_file(opportunity, "Terms", "terms.pdf", text_pdf([["v1"]]))
    second = sf.ContentVersion.create({"ContentDocumentId": document_id, "PathOnClient": "terms-v2.pdf",
                                       "Title": "Terms v2", "ReasonForChange": "clause 3",
                                       "VersionData": base64.b64encode(b"%PDF-1.4 v2").decode()})
    assert sf.ContentVersion.get(first)["IsLatest"] is False
    latest = sf.ContentVersion.get(second["id"])
    assert (latest["IsLatest"], latest["VersionNumber"], latest["ContentDocumentId"]) == (True, "2", document_id)
    assert sf.ContentDocument.get(document_id)["LatestPublishedVersionId"] == second["id"]
    with pytest.raises(SalesforceMalformedRequest) as old:
        sf.ContentVersion.update(first, {"Title": "edit an old version"})
    assert old.value.content[0]["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    sf.ContentVersion.update(second["id"], {"Title": "Terms (final)"})
    assert sf.ContentDocument.get(document_id)["Title"] == "Terms (final)"
    with pytest.raises(SalesforceMalformedRequest) as relinked:
        sf.ContentVersion.create({"ContentDocumentId": document_id, "PathOnClient": "v3.pdf",
                                  "FirstPublishLocationId": opportunity,
                                  "VersionData": base64.b64encode(b"v3").decode()})
    assert relinked.value.content[0]["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"


def test_explicit_link_and_deletes(sf_org, sf):
    deal = make_deal(sf_org.sim, "Link Deal")
    unlinked = sf.ContentVersion.create({"PathOnClient": "loose.txt",
                                         "VersionData": base64.b64encode(b"loose").decode()})
    document_id = sf.ContentVersion.get(unlinked["id"], params={"fields": "ContentDocumentId"})["ContentDocumentId"]
    assert sf_org.sim.files_on(deal["opportunity"]) == []
    link = {"ContentDocumentId": document_id, "LinkedEntityId": deal["opportunity"], "ShareType": "V"}
    sf.ContentDocumentLink.create(link)
    with pytest.raises(SalesforceMalformedRequest) as twice:
        sf.ContentDocumentLink.create(link)
    assert twice.value.content[0]["errorCode"] == "DUPLICATE_VALUE"
    assert [f["title"] for f in sf_org.sim.files_on(deal["opportunity"])] == ["loose"]
    with pytest.raises(SalesforceGeneralError) as version_delete:
        sf.ContentVersion.delete(unlinked["id"])
    assert version_delete.value.status == 405
    assert sf.ContentDocument.delete(document_id) == 204
    assert sf_org.sim.files_on(deal["opportunity"]) == []
    assert sf.query(f"SELECT Id FROM ContentVersion WHERE ContentDocumentId = '{document_id}'")["totalSize"] == 0


def test_blob_read_is_not_allowed_inside_composite(sf_org, sf, opportunity):
    version_id, _ = sf_org.sim.attach_file(opportunity, "Quote", "quote.pdf", text_pdf([["Q"]]))
    result = sf.restful("composite", method="POST", json={"compositeRequest": [
        {"method": "GET", "referenceId": "blob",
         "url": f"/services/data/v59.0/sobjects/ContentVersion/{version_id}/VersionData"}]})
    assert result["compositeResponse"][0]["httpStatusCode"] == 400


def test_text_bodies_over_50_mb_are_refused_but_multipart_is_not(sf_org, sf, opportunity, monkeypatch):
    from sandbox.salesforce_sim import app

    monkeypatch.setattr(app, "MAX_TEXT_BODY_BYTES", 2000)  # stands for 50 MB
    content = b"%PDF-1.4 " + b"x" * 3000
    with pytest.raises(SalesforceGeneralError) as too_big:
        sf.ContentVersion.create({"PathOnClient": "big.pdf", "FirstPublishLocationId": opportunity,
                                  "VersionData": base64.b64encode(content).decode()})
    assert too_big.value.status == 413
    body, content_type = _multipart({"PathOnClient": "big.pdf", "FirstPublishLocationId": opportunity}, content)
    uploaded = sf.restful("sobjects/ContentVersion", method="POST", data=body, headers={"Content-Type": content_type})
    assert sf.ContentVersion.get_base64(uploaded["id"], base64_field="VersionData") == content
