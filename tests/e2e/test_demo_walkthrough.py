"""The README's sandbox walkthrough, deal by deal: each outcome it documents for the demo data happens.

The demo org (sandbox/salesforce_sim/demo.py) and the demo rules (mappings/rules.yaml), with the
real simple-salesforce client and the real adapters over HTTP against the simulators, as `make sandbox` runs
them. When the README's "Two commands" section changes, this test changes with it.
"""

from __future__ import annotations

import io
from datetime import date

import requests
from pypdf import PdfReader

from connector.store import JobState
from tests.e2e.deals import sign

FLEET = "Northwind - Fleet Telematics Renewal"
SCANNERS = "Northwind - Warehouse Scanners"
LAB = "Contoso - Lab Data Platform"
TRAINING = "Contoso - Compliance Training Seats"
FABRIKAM = "Fabrikam - Route Optimisation Pilot"


def _jobs(e2e, opportunity_id: str) -> dict:
    return {job.rule_id: job for job in e2e.daemon.store.list_jobs() if job.opportunity_id == opportunity_id}


def _record(e2e, opportunity_id: str) -> dict:
    return e2e.salesforce.get_record("Opportunity", opportunity_id)


def _titles(e2e, opportunity_id: str) -> set[str]:
    return {f["title"] for f in e2e.salesforce.files_on(opportunity_id)}


def _tasks(e2e, opportunity_id: str) -> list[str]:
    return [t["Subject"] for t in e2e.salesforce.tasks_on(opportunity_id)]


def _move(e2e, stages: dict[str, str]) -> dict[str, str]:
    ids = {name: e2e.opportunity_id(name) for name in stages}
    for name, stage in stages.items():
        e2e.salesforce.set_stage(ids[name], stage)
    e2e.daemon.run_once()
    return ids


def _all_done(e2e, opportunity_ids) -> bool:
    return all(j.state == JobState.DONE for o in opportunity_ids for j in _jobs(e2e, o).values())


def _signers(e2e, name: str) -> tuple[str, ...]:
    """The emails of the deal's decision maker and, when it has one, its economic buyer."""
    roles = {r["Role"]: r["ContactId"] for r in e2e.salesforce.records("OpportunityContactRole")
             if r["OpportunityId"] == e2e.opportunity_id(name)}
    return tuple(e2e.salesforce.get_record("Contact", roles[role])["Email"]
                 for role in ("Decision Maker", "Economic Buyer") if role in roles)


ERRORS = {TRAINING: "is not a PDF (extension docx)", SCANNERS: "has no contact with the role 'Economic Buyer'",
          FABRIKAM: "has no email address"}


def test_the_documented_errors_each_show_on_their_deal(e2e):
    """Not a PDF, a missing contact role, no email: each refused before sending at every stage the README says,
    with the reason written back."""
    ids = {name: e2e.opportunity_id(name) for name in ERRORS}
    for stage in ("Contract Sent", "Proposal", "Negotiation"):
        _move(e2e, dict.fromkeys(ERRORS, stage))
        for name, error in ERRORS.items():
            record = _record(e2e, ids[name])
            assert (record["Signing_Status__c"], stage) == ("Error", stage), name
            assert error in record["Signing_Last_Error__c"], (name, stage)
    assert "Quote Q-1004" in _record(e2e, ids[TRAINING])["Signing_Last_Error__c"]
    _move(e2e, {FABRIKAM: "Verbal Commitment"})
    assert _record(e2e, ids[FABRIKAM])["Signing_Status__c"] == "Error"
    assert "Marta Kowalski" in _record(e2e, ids[FABRIKAM])["Signing_Last_Error__c"]
    assert e2e.signrequest.create_calls == 0 and not e2e.sandbox.onespan.packages
    assert not e2e.sandbox.legalsign.documents


def test_verbal_commitment_sends_the_order_form_only_for_new_business_of_10000_or_more(e2e):
    ids = _move(e2e, {FLEET: "Verbal Commitment", SCANNERS: "Verbal Commitment", LAB: "Verbal Commitment",
                      TRAINING: "Verbal Commitment"})

    sent = {name: set(_jobs(e2e, ids[name])) for name in ids}
    assert sent == {FLEET: {"terms-signrequest"}, TRAINING: {"terms-signrequest"},
                    SCANNERS: {"order-form", "terms-signrequest"}, LAB: {"order-form", "terms-signrequest"}}
    assert all(j.state == JobState.AWAITING for o in ids.values() for j in _jobs(e2e, o).values())
    for name, opportunity_id in ids.items():
        decision_maker = _signers(e2e, name)[0]
        for job in _jobs(e2e, opportunity_id).values():
            sign(e2e.signrequest, job.request_id, decision_maker)
    e2e.settle(until=lambda: _all_done(e2e, ids.values()))

    for name, opportunity_id in ids.items():
        assert _record(e2e, opportunity_id)["Signing_Status__c"] == "Completed", name
        assert {"Terms and Conditions - signed", "Terms and Conditions - evidence"} <= _titles(e2e, opportunity_id)
    assert {f"Order Form - {LAB} - signed", f"Order Form - {LAB} - evidence"} <= _titles(e2e, ids[LAB])
    order_form = next(f["content"] for f in e2e.salesforce.files_on(ids[SCANNERS])
                      if f["title"] == f"Order Form - {SCANNERS} - signed")
    text = PdfReader(io.BytesIO(order_form)).pages[0].extract_text()
    close_date = date.fromisoformat(_record(e2e, ids[SCANNERS])["CloseDate"])
    assert "$22,500.00" in text and f"{close_date:%B} {close_date.day}, {close_date.year}" in text
    assert not [t for t in _titles(e2e, ids[FLEET]) if t.startswith("Order Form")]
    # The console lists both of the deal's requests, not only the last one written to its status fields.
    page = requests.get(f"{e2e.sandbox.salesforce_console.url}/sandbox/", timeout=5).text
    row = page[page.index(f"<b>{LAB}</b>"):]
    row = row[:row.index("</tr>")]
    assert f"<li>Order Form - {LAB}: <b>Completed, everyone signed</b>" in row
    assert "<li>Terms and Conditions: <b>Completed, everyone signed</b>" in row


def test_contract_sent_signs_with_signrequest_and_closed_lost_cancels(e2e):
    """Contract Sent: the decision maker (SMS code) then the economic buyer; Closed Lost cancels a pending one."""
    ids = _move(e2e, {LAB: "Contract Sent", FLEET: "Contract Sent"})
    lab_job, fleet_job = (_jobs(e2e, ids[name])["quote-signature"] for name in (LAB, FLEET))
    assert lab_job.state == fleet_job.state == JobState.AWAITING
    maker, buyer = _signers(e2e, LAB)
    assert e2e.signrequest.sms_code(lab_job.request_id, maker)  # the decision maker passes an SMS code step
    sign(e2e.signrequest, lab_job.request_id, maker)
    sign(e2e.signrequest, lab_job.request_id, buyer)
    e2e.salesforce.set_stage(ids[FLEET], "Closed Lost")
    e2e.daemon.run_once()
    e2e.settle(until=lambda: _all_done(e2e, ids.values()))

    lab = _record(e2e, ids[LAB])
    assert lab["Signing_Status__c"] == "Completed"
    assert {"Quote Q-1003 - signed", "Quote Q-1003 - evidence"} <= _titles(e2e, ids[LAB])
    tasks = _tasks(e2e, ids[LAB])
    assert any(t.startswith("Sent for signature") for t in tasks) and any(t.startswith("Signed") for t in tasks)
    assert _record(e2e, ids[FLEET])["Signing_Status__c"] == "Cancelled"
    assert e2e.signrequest.document(fleet_job.request_id)["status"] == "ca"


def test_proposal_signs_with_onespan_and_negotiation_with_legalsign(e2e):
    """Proposal: OneSpan, decision maker (SMS), economic buyer, then the owner countersigns. Negotiation:
    Legalsign, the decision maker (SMS) then the economic buyer."""
    ids = _move(e2e, {LAB: "Proposal", FLEET: "Negotiation"})
    onespan_job = _jobs(e2e, ids[LAB])["proposal-onespan"]
    legalsign_job = _jobs(e2e, ids[FLEET])["terms-legalsign"]
    assert onespan_job.state == legalsign_job.state == JobState.AWAITING, (onespan_job.last_error,
                                                                          legalsign_job.last_error)
    onespan, legalsign = e2e.sandbox.onespan, e2e.sandbox.legalsign
    owner = e2e.salesforce.get_record("User", _record(e2e, ids[LAB])["OwnerId"])["Email"]
    for email in (*_signers(e2e, LAB), owner):
        sign(onespan, onespan_job.request_id, email)
    for email in _signers(e2e, FLEET):
        sign(legalsign, legalsign_job.request_id, email)
    onespan.wait_for_deliveries()
    legalsign.wait_for_deliveries()
    e2e.settle(until=lambda: _all_done(e2e, ids.values()))

    assert _record(e2e, ids[LAB])["Signing_Status__c"] == "Completed"
    assert {"Quote Q-1003 - signed", "Terms and Conditions - signed"} <= _titles(e2e, ids[LAB])
    assert _record(e2e, ids[FLEET])["Signing_Status__c"] == "Completed"
    assert {"Quote Q-1001 - signed", "Quote Q-1001 - evidence"} <= _titles(e2e, ids[FLEET])
