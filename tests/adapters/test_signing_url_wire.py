"""The exact requests each adapter sends for embedded delivery: how a signer is left un-emailed, and
how that signer's signing URL is read back."""

from __future__ import annotations

import json

import pytest
import responses
from responses import matchers

from connector.ports.provider import ProviderTransientError, ProviderValidationError, SignerDelivery, SignerSpec
from tests.adapters import test_legalsign_wire as ls
from tests.adapters import test_onespan_wire as os_
from tests.adapters import test_signrequest_wire as sr

# --- SignRequest: embed_url_user_id on the signer, embed_url read from the signrequest ---------


@responses.activate
def test_signrequest_embedded_signer_is_sent_with_embed_url_user_id():
    embedded = SignerSpec("eli@example.com", "Eli", "Buyer", 2, delivery=SignerDelivery.EMBEDDED)
    sr.expect_quick_create(sr.quick_create_body([sr.signer_json(sr.DANA),
                                                 sr.signer_json(embedded, embed_url_user_id="eli@example.com")]))
    assert sr.provider().create(sr.spec(sr.DANA, embedded)) == sr.REF


@responses.activate
def test_signrequest_signing_url_is_the_signers_embed_url():
    embed = f"https://acme.signrequest.com/document/{sr.DOC}/sign/?embed=1&token=abc"
    responses.get(f"{sr.BASE}/signrequests/{sr.SR}/", match=[matchers.header_matcher(sr.AUTH)], json={
        "uuid": sr.SR, "signers": [
            {"email": "sales@acme.example", "needs_to_sign": False, "embed_url": None},
            {"email": "dana@example.com", "embed_url": None},
            {"email": "Eli@Example.com", "embed_url": embed}]})
    assert sr.provider().signing_url(sr.REF, "eli@example.com") == embed
    assert [(c.request.method, c.request.url) for c in responses.calls] == [
        ("GET", f"{sr.BASE}/signrequests/{sr.SR}/")]


@responses.activate
def test_signrequest_signer_without_embed_url_is_an_error_naming_the_signer():
    responses.get(f"{sr.BASE}/signrequests/{sr.SR}/", json={"signers": [{"email": "dana@example.com",
                                                                         "embed_url": None}]})
    with pytest.raises(ProviderValidationError, match="no signing link for dana@example.com"):
        sr.provider().signing_url(sr.REF, "dana@example.com")


# --- Legalsign: do_email off for an all-embedded document, a fresh link per signer ------------


@responses.activate
def test_legalsign_all_embedded_document_is_sent_with_do_email_false():
    ls.mock_send()
    bob = SignerSpec("bob@x.io", "Bob", "Builder", 1, delivery=SignerDelivery.EMBEDDED)
    assert ls.provider().create(ls.spec(bob, send_reminders=False)) == ls.REF
    body = ls.sent_json(responses.calls[4])
    assert (body["do_email"], body["return_signer_links"]) == (False, False)


def test_legalsign_refuses_embedded_and_emailed_signers_in_one_document():
    mixed = ls.spec(ls.BOB, SignerSpec("cy@x.io", "Cy", "D", 3, delivery=SignerDelivery.EMBEDDED))
    with pytest.raises(ProviderValidationError, match="emails every signer of a document or none"):
        ls.provider()._document_body(mixed, ls.PDF_ID)


@responses.activate
def test_legalsign_signing_url_mints_a_new_link_for_the_signer():
    link = "https://app1.legalesign.com/esign/abc123/"
    responses.get(f"{ls.API}/document/{ls.DOC}/", json=ls.document(10), match=[matchers.header_matcher(ls.AUTH)])
    responses.get(f"{ls.API}/signer/s1/new-link/", status=201, headers={"Location": link},
                  match=[matchers.header_matcher(ls.AUTH)])
    assert ls.provider().signing_url(ls.REF, "bob@x.io") == link
    assert [(c.request.method, c.request.url) for c in responses.calls] == [
        ("GET", f"{ls.API}/document/{ls.DOC}/"), ("GET", f"{ls.API}/signer/s1/new-link/")]


@responses.activate
def test_legalsign_relative_link_is_refused():
    responses.get(f"{ls.API}/document/{ls.DOC}/", json=ls.document(10))
    responses.get(f"{ls.API}/signer/s0/new-link/", status=201, headers={"Location": "/esign/abc/"})
    with pytest.raises(ProviderTransientError, match="no absolute Location"):
        ls.provider().signing_url(ls.REF, "anne@x.io")


# --- OneSpan: the role's signingUrl (the capability stays off: see adapters/onespan/adapter.py) -------


@responses.activate
def test_onespan_signing_url_reads_the_role_of_the_signer():
    url = f"{os_.BASE}/auth?target=x&loginToken=t0k"
    responses.get(f"{os_.API}/packages/{os_.PKG}", json=os_._package(), match=[matchers.header_matcher(os_.AUTH)])
    responses.get(f"{os_.API}/packages/{os_.PKG}/roles/signer2/signingUrl", match=[matchers.header_matcher(os_.AUTH)],
                  json={"packageId": os_.PKG, "roleId": "signer2", "url": url})
    assert os_.provider().signing_url(os_.REF, "eli@x.io") == url
    assert [c.request.url for c in responses.calls] == [
        f"{os_.API}/packages/{os_.PKG}", f"{os_.API}/packages/{os_.PKG}/roles/signer2/signingUrl"]


def test_onespan_does_not_offer_embedded_delivery():
    capabilities = os_.provider().capabilities
    assert (capabilities.embedded_signing, capabilities.mixed_delivery) == (False, False)


@responses.activate
def test_onespan_unknown_signer_is_an_error_without_a_url_call():
    responses.get(f"{os_.API}/packages/{os_.PKG}", body=json.dumps(os_._package()))
    with pytest.raises(ProviderValidationError, match="nobody@x.io is not a signer"):
        os_.provider().signing_url(os_.REF, "nobody@x.io")
    assert len(responses.calls) == 1
