"""The admin page in headless Chromium against the sandbox: a parked job retried and a refused one re-sent after
its data is fixed, each clicked through to completion; 401 without credentials, 403 without the CSRF token,
a hostile opportunity name shown as text.

CONNECTOR_UPDATE_SCREENSHOTS=1 also saves the screenshots README shows (docs/admin-*.png)."""

from __future__ import annotations

import os
import time

import pytest

from config.settings import REPO_ROOT
from connector.store import JobState
from sandbox.runner import ADMIN_PASSWORD, ADMIN_USERNAME
from tests.e2e.conftest import running_e2e
from tests.e2e.deals import make_deal, sign

STAGE = "Contract Sent"
CREATE = "POST /api/v1/signrequest-quick-create/"
HOSTILE = '<img src=x onerror="document.title=\'pwned\'"> Initech & <b>Sons</b>'


@pytest.fixture
def sandbox(tmp_path):
    # One failed attempt parks a job; a create left in doubt may be looked for a second after.
    with running_e2e(tmp_path, max_attempts=1, provider_timeout_seconds=1) as world:
        yield world


@pytest.fixture
def admin(browser, sandbox):
    context = browser.new_context(http_credentials={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD})
    try:
        yield context.new_page()
    finally:
        context.close()


def _job_for(sandbox, opportunity_id):
    return next(j for j in sandbox.daemon.store.list_jobs() if j.opportunity_id == opportunity_id)


def _sign_everything(sandbox, opportunity_id):
    """Wait for the request to go out, sign it as each signer, and let the daemon write the outcome back."""
    deadline = time.monotonic() + 15
    while (job := _job_for(sandbox, opportunity_id)).state != JobState.AWAITING and time.monotonic() < deadline:
        time.sleep(0.2)  # a create left in doubt by the fault is looked for once it can no longer be on its way
        sandbox.daemon.run_once()
    assert job.state == JobState.AWAITING, job
    for email in job.request.signers:
        sign(sandbox.signrequest, job.request_id, email)
    sandbox.settle(until=lambda: _job_for(sandbox, opportunity_id).state == JobState.DONE)


def _screenshot(page, name: str) -> None:
    if os.environ.get("CONNECTOR_UPDATE_SCREENSHOTS"):
        page.screenshot(path=str(REPO_ROOT / "docs" / name), full_page=True)


def test_a_parked_job_is_retried_from_the_admin_page_and_completes(sandbox, admin):
    url = sandbox.daemon.settings.public_base_url
    parked = make_deal(sandbox.salesforce, "Initech")
    sandbox.salesforce.update_record("Opportunity", parked, {"Name": HOSTILE})
    refused = make_deal(sandbox.salesforce, "Globex Missing Email", signer_email=None)
    sandbox.signrequest.faults.add_http(CREATE, server_error=1.0)
    sandbox.salesforce.set_stage(parked, STAGE)
    sandbox.salesforce.set_stage(refused, STAGE)
    sandbox.daemon.run_once()
    assert _job_for(sandbox, parked).state == JobState.PARKED
    assert _job_for(sandbox, refused).outcome == "failed"
    sandbox.signrequest.faults.clear()

    admin.goto(f"{url}/admin/")
    assert admin.title() == "esign-connector admin"  # the name's markup did not run
    assert admin.locator("img").count() == 0 and admin.locator("main b").count() == 0
    assert HOSTILE in admin.locator("table").first.inner_text()
    _screenshot(admin, "admin-overview.png")

    admin.get_by_role("link", name="Jobs").click()
    admin.get_by_label("State").select_option("parked")
    admin.get_by_role("button", name="Filter").click()
    assert "1 job(s)" in admin.locator("main").inner_text()
    admin.locator("table a").first.click()
    assert "parked at step new" in admin.locator("#state").inner_text()
    admin.get_by_role("button", name="Retry").click()
    assert "Resumed" in admin.get_by_role("status").inner_text()
    sandbox.daemon.run_once()
    _sign_everything(sandbox, parked)
    admin.reload()
    assert admin.locator("#state").inner_text() == "done" and admin.locator("#outcome").inner_text() == "completed"
    timeline = admin.locator("table").nth(1).inner_text()
    assert f"{ADMIN_USERNAME} (admin page) resumed the parked job at step new" in timeline and "completed" in timeline
    _screenshot(admin, "admin-job.png")
    assert sandbox.salesforce.get_record("Opportunity", parked)["Signing_Status__c"] == "Completed"


def test_a_refused_job_is_re_sent_after_the_fix_and_completes(sandbox, admin):
    url = sandbox.daemon.settings.public_base_url
    refused = make_deal(sandbox.salesforce, "Globex Missing Email", signer_email=None)
    sandbox.salesforce.set_stage(refused, STAGE)
    sandbox.daemon.run_once()
    assert sandbox.salesforce.get_record("Opportunity", refused)["Signing_Status__c"] == "Error"
    dana = next(r["ContactId"] for r in sandbox.salesforce.records("OpportunityContactRole")
                if r["OpportunityId"] == refused and r["Role"] == "Decision Maker")
    sandbox.salesforce.update_record("Contact", dana, {"Email": "dana@example.com"})  # the fix, in Salesforce

    admin.goto(f"{url}/admin/jobs?outcome=refused")
    admin.get_by_role("button", name="Re-send after fix").click()
    assert "Re-sent" in admin.get_by_role("status").inner_text()
    sandbox.daemon.run_once()
    assert sandbox.salesforce.get_record("Opportunity", refused)["Signing_Status__c"] == "Sent"
    _sign_everything(sandbox, refused)
    admin.reload()
    assert admin.locator("#outcome").inner_text() == "completed"
    assert sandbox.signrequest.create_calls == 1


def test_credentials_and_the_csrf_token_are_required(sandbox, browser, admin):
    url = sandbox.daemon.settings.public_base_url
    anonymous = browser.new_context()
    try:
        answer = anonymous.request.get(f"{url}/admin/")
        assert answer.status == 401 and answer.headers["www-authenticate"].startswith("Basic")
    finally:
        anonymous.close()
    refused = make_deal(sandbox.salesforce, "Globex Missing Email", signer_email=None)
    sandbox.salesforce.set_stage(refused, STAGE)
    sandbox.daemon.run_once()
    job = _job_for(sandbox, refused)
    answer = admin.context.request.post(f"{url}/admin/jobs/{job.id}/retry", form={"other": "x"})
    assert answer.status == 403
    assert _job_for(sandbox, refused).outcome == "failed"
