"""The sandbox's pages in a real browser: the console's refresh and a signing page's SMS step."""

from __future__ import annotations

import pytest

from connector.ports.provider import SignerAuth, SignerSpec, SigningRequestSpec
from connector.runtime.servers import serve_in_thread
from sandbox.pages import WRONG_CODE
from sandbox.salesforce_sim import SalesforceSimulator
from tests.contract.harnesses import HARNESSES
from tests.contract.test_provider_contract import _spec


@pytest.fixture
def console():
    sim = SalesforceSimulator(consumer_key="k", consumer_secret="s")
    sim.seed_demo()
    server = serve_in_thread(sim.app, port=0)
    try:
        yield sim, f"{server.url}/sandbox/"
    finally:
        server.stop()


def test_the_console_refresh_keeps_a_stage_picked_but_not_moved(console, page):
    sim, url = console
    page.goto(url)
    page.evaluate("window.notReloaded = true")
    select = page.locator("select[data-stage]").first
    own_stage = select.get_attribute("data-stage")
    select.select_option("Contract Sent")
    page.locator("h1").click()  # the select loses the focus: only the picked stage holds the refresh
    page.wait_for_timeout(6500)  # more than one 5 s period
    assert page.evaluate("window.notReloaded === true")
    assert select.input_value() == "Contract Sent"
    assert "Paused while a stage is picked" in page.locator("#paused").inner_text()
    assert {o["StageName"] for o in sim.records("Opportunity")} <= {"Prospecting", "Qualification"}

    select.select_option(own_stage)  # picked back: the refresh goes on
    page.locator("h1").click()
    page.wait_for_function("window.notReloaded === undefined", timeout=8000)
    page.locator("select[data-stage]").first.select_option("Contract Sent")
    page.locator("select[data-stage]").first.locator("xpath=..").locator("button").click()
    page.wait_for_load_state()
    assert "Contract Sent" in {o["StageName"] for o in sim.records("Opportunity")}


def test_a_wrong_onespan_sms_code_shows_the_error_and_the_form_again(page):
    with HARNESSES["onespan"]() as harness:
        spec = _spec(harness, "ann@example.com")
        signer = SignerSpec("ann@example.com", "Ann", "Signer", 1, "+15550100", SignerAuth.SMS)
        ref = harness.provider.create(SigningRequestSpec(**{**spec.__dict__, "signers": (signer,)}))
        code = harness.sim.sms_code(ref.request_id, "ann@example.com")
        page.goto(harness.sim.signing_url(ref.request_id, "ann@example.com"))
        page.get_by_label("SMS code").fill(f"{(int(code) + 1) % 10**6:06d}")
        page.get_by_role("button", name="Verify").click()
        assert page.get_by_role("alert").inner_text() == WRONG_CODE
        page.get_by_label("SMS code").fill(code)  # the form is there: try again
        page.get_by_role("button", name="Verify").click()
        page.get_by_role("button", name="Sign").click()
        assert "Signed by everyone" in page.locator("body").inner_text()
