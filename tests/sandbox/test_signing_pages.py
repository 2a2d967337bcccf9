"""The three signing pages over HTTP, as a person clicks through them (SMS step included)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
import requests

from connector.ports.provider import SignerAuth, SignerSpec, SigningRequestSpec, SigningState
from sandbox.pages import WRONG_CODE
from tests.contract.harnesses import HARNESSES
from tests.contract.test_provider_contract import _spec


@pytest.mark.parametrize("name", ["onespan", "legalsign", "signrequest"])
def test_sms_step_then_sign_through_the_page(name):
    with HARNESSES[name]() as harness:
        spec = _spec(harness, "ann@example.com")
        signer = SignerSpec("ann@example.com", "Ann", "Signer", 1, "+15550100", SignerAuth.SMS)
        ref = harness.provider.create(SigningRequestSpec(**{**spec.__dict__, "signers": (signer,)}))
        url = harness.sim.signing_url(ref.request_id, "ann@example.com")
        page = requests.get(url, timeout=5).text
        code = re.search(r"would be <b>(\d{6})</b>", page).group(1)
        assert requests.post(url, data={"action": "sms", "code": "000000" if code != "000000" else "111111"},
                             timeout=5).status_code == 400
        assert requests.post(url, data={"action": "sms", "code": code}, timeout=5).status_code == 200
        assert requests.post(url, data={"action": "sign", "full_name": "Ann"}, timeout=5).status_code == 200
        assert harness.provider.get_status(ref).state == SigningState.COMPLETED


@pytest.mark.parametrize("name", ["onespan", "legalsign", "signrequest"])
def test_decline_with_a_reason_through_the_page(name):
    with HARNESSES[name]() as harness:
        ref = harness.provider.create(_spec(harness, "ann@example.com"))
        url = harness.sim.signing_url(ref.request_id, "ann@example.com")
        action = "reject" if name == "legalsign" else "decline"
        assert requests.post(url, data={"action": action, "reason": ""}, timeout=5).status_code == 400
        assert requests.post(url, data={"action": action, "reason": "Not today"}, timeout=5).status_code == 200
        status = harness.provider.get_status(ref)
        assert (status.state, status.decline_reason) == (SigningState.DECLINED, "Not today")


INDEX = {"onespan": "/sandbox/", "legalsign": "/sandbox/", "signrequest": "/"}
WAITING = {"onespan": "(SENT)", "legalsign": "(10)", "signrequest": "(se)"}


def _index(harness, name: str, url: str) -> str:
    parts = urlsplit(url)
    return requests.get(f"{parts.scheme}://{parts.netloc}{INDEX[name]}", timeout=5).text


@pytest.mark.parametrize("name", ["onespan", "legalsign", "signrequest"])
def test_a_wrong_sms_code_shows_the_page_again_with_the_error_and_the_form(name):
    with HARNESSES[name]() as harness:
        spec = _spec(harness, "ann@example.com")
        signer = SignerSpec("ann@example.com", "Ann", "Signer", 1, "+15550100", SignerAuth.SMS)
        ref = harness.provider.create(SigningRequestSpec(**{**spec.__dict__, "signers": (signer,)}))
        url = harness.sim.signing_url(ref.request_id, "ann@example.com")
        code = re.search(r"would be <b>(\d{6})</b>", requests.get(url, timeout=5).text).group(1)
        wrong = requests.post(url, data={"action": "sms", "code": f"{(int(code) + 1) % 10**6:06d}"}, timeout=5)
        assert wrong.status_code == 400
        assert f"<p class='error' role='alert'>{WRONG_CODE}</p>" in wrong.text
        assert f"would be <b>{code}</b>" in wrong.text and "name='code'" in wrong.text  # the form, to try again
        assert requests.post(url, data={"action": "sms", "code": code}, timeout=5).status_code == 200
        assert "name='code'" not in requests.get(url, timeout=5).text


@pytest.mark.parametrize("name", ["onespan", "legalsign", "signrequest"])
def test_pages_say_in_words_where_the_request_stands(name):
    with HARNESSES[name]() as harness:
        ann, bob = "ann@example.com", "bob@example.com"
        ref = harness.provider.create(_spec(harness, ann, bob))
        ann_url = harness.sim.signing_url(ref.request_id, ann)
        index = _index(harness, name, ann_url)
        assert f"Waiting for signers <small class='code'>{WAITING[name]}</small>" in index
        assert not re.search(r"status (<code>)?\w+(</code>)?[,<]", index)  # no bare "status se" / "status 10"

        harness.sign(ref, ann)
        page = requests.get(ann_url, timeout=5).text
        assert "You have signed" in page and "waiting for the others to sign" in page
        assert "Nothing to do" not in page
        harness.sign(ref, bob)
        page = requests.get(ann_url, timeout=5).text
        assert "You have signed" in page and "Signed by everyone" in page
        assert "Signed by everyone" in _index(harness, name, ann_url)
