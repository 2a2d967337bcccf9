"""OneSpan and Legalsign signing pages over HTTP, as a person clicks through them (SMS step included)."""

from __future__ import annotations

import re

import pytest
import requests

from adapters.base import SignerAuth, SignerSpec, SigningRequestSpec, SigningState
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
