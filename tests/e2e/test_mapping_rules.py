"""The demo's Verbal Commitment stage end to end: a filtered rule whose order form is generated from the
fillable template, and a second rule on the same stage that sends the terms file as its own request.

Real simple-salesforce client and real SignRequest adapter, over HTTP, against the simulators.
"""

from __future__ import annotations

import io
import logging

from pypdf import PdfReader

from connector.store import JobState
from sandbox.salesforce_sim.demo import TERMS
from tests.e2e.deals import make_deal, sign

STAGE = "Verbal Commitment"
SIGNER = "dana@example.com"


def _jobs(e2e) -> dict:
    return {job.rule_id: job for job in e2e.daemon.store.list_jobs()}


def _text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def _deal(e2e, name: str, **kwargs) -> str:
    options = {"file": TERMS, "title": "Terms and Conditions", "filename": "Terms and Conditions.pdf",
               "record_type_name": "New_Business", "billing_city": "Leeds", **kwargs}
    return make_deal(e2e.salesforce, name, **options)


def test_the_order_form_is_generated_from_the_template_and_signed_end_to_end(e2e):
    opportunity_id = _deal(e2e, "Umbrella Fleet")
    e2e.salesforce.set_stage(opportunity_id, STAGE)
    e2e.daemon.run_once()

    job = _jobs(e2e)["order-form"]
    assert job.state == JobState.AWAITING
    sent = e2e.signrequest.document(job.request_id)
    assert sent["name"] == "Order Form - Umbrella Fleet.pdf"
    assert sent["signrequest"]["subject"] == "Order form for Umbrella Fleet Inc: Umbrella Fleet"
    # The deal was made through the API, so the integration user owns it.
    assert sent["signrequest"]["message"] == "Hello Dana, here is the order form for $50,000.00. Integration User"
    assert [s["language"] for s in sent["signrequest"]["signers"] if s["needs_to_sign"]] == ["en"]
    generated = e2e.signrequest.store.documents[job.request_id].content
    reader = PdfReader(io.BytesIO(generated))
    assert reader.get_fields() is None  # flattened: the values are page content, not editable fields
    text = _text(generated)
    for value in ("Umbrella Fleet Inc", "Leeds", "Umbrella Fleet", "$50,000.00", "December 31, 2026", "Dana Signer",
                  SIGNER,
                  "Integration User"):
        assert value in text
    assert not [f for f in e2e.salesforce.files_on(opportunity_id) if f["title"].startswith("Order Form")]

    sign(e2e.signrequest, job.request_id, SIGNER)
    e2e.settle(until=lambda: _jobs(e2e)["order-form"].state == JobState.DONE)

    assert _jobs(e2e)["order-form"].outcome == "completed"
    files = {f["title"]: f for f in e2e.salesforce.files_on(opportunity_id)}
    signed = files["Order Form - Umbrella Fleet - signed"]["content"]
    assert "Umbrella Fleet Inc" in _text(signed) and "Leeds" in _text(signed)
    PdfReader(io.BytesIO(files["Order Form - Umbrella Fleet - evidence"]["content"]))
    assert e2e.salesforce.get_record("Opportunity", opportunity_id)["Signing_Status__c"] == "Completed"


def test_two_rules_on_one_stage_send_two_requests_and_attach_two_sets_of_files(e2e):
    opportunity_id = _deal(e2e, "Stark Sensors")
    e2e.salesforce.set_stage(opportunity_id, STAGE)
    e2e.daemon.run_once()
    e2e.restart().run_once()  # polling again after a restart sends neither twice

    jobs = _jobs(e2e)
    assert set(jobs) == {"order-form", "terms-signrequest"}
    assert e2e.signrequest.create_calls == 2
    names = {e2e.signrequest.document(job.request_id)["name"] for job in jobs.values()}
    assert names == {"Order Form - Stark Sensors.pdf", "Terms and Conditions.pdf"}
    for job in jobs.values():
        sign(e2e.signrequest, job.request_id, SIGNER)
    e2e.settle(until=lambda: all(j.state == JobState.DONE for j in _jobs(e2e).values()))

    assert {j.outcome for j in _jobs(e2e).values()} == {"completed"}
    titles = {f["title"] for f in e2e.salesforce.files_on(opportunity_id)}
    assert titles == {"Terms and Conditions", "Terms and Conditions - signed", "Terms and Conditions - evidence",
                      "Order Form - Stark Sensors - signed", "Order Form - Stark Sensors - evidence",
                      "Terms and Conditions - receipt", "Order Form - Stark Sensors - receipt"}
    assert e2e.salesforce.get_record("Opportunity", opportunity_id)["Signing_Status__c"] == "Completed"


def test_the_filtered_rule_does_not_fire_for_a_renewal_or_a_small_deal(e2e, caplog):
    renewal = _deal(e2e, "Wayne Renewal", record_type_name="Renewal")
    small = _deal(e2e, "Acme Small Order", amount=2500)
    caplog.set_level(logging.DEBUG, logger="connector.triggers")
    for opportunity_id in (renewal, small):
        e2e.salesforce.set_stage(opportunity_id, STAGE)
    e2e.daemon.run_once()

    jobs = e2e.daemon.store.list_jobs()
    assert sorted((j.rule_id, j.opportunity_id) for j in jobs) == sorted(
        [("terms-signrequest", renewal), ("terms-signrequest", small)])
    assert e2e.signrequest.create_calls == 2
    reasons = [r.getMessage() for r in caplog.records if "does not fire" in r.getMessage()]
    assert any(renewal in m and "record type 'Renewal' is not one of New_Business" in m for m in reasons)
    assert any(small in m and "Amount 2500 is below 10000" in m for m in reasons)


def test_plan_shows_the_generated_order_form_for_a_demo_deal_without_sending(e2e):
    from connector.admin.plan_command import run_plan
    from connector.documents.selection import PdfLimits

    opportunity_id = e2e.opportunity_id("Contoso - Lab Data Platform")
    lines: list[str] = []
    daemon = e2e.daemon
    code = run_plan(crm=daemon.crm, providers=daemon.providers, mapping=daemon.mappings.current,
                    opportunity_id=opportunity_id, limits=PdfLimits(), callback_base_url="https://c.example",
                    templates_dir=daemon.settings.mappings_path.parent, out=lines.append)
    text = "\n".join(lines)
    assert code == 0, text
    assert "rule order-form: would send with SignRequest" in text
    assert "  document 'Order Form - Contoso - Lab Data Platform' (template templates/order_form.pdf): " in text
    assert "  subject: Order form for Contoso Pharmaceuticals: Contoso - Lab Data Platform" in text
    assert "  message: Hello Grace, here is the order form for $136,000.00. Sam Okafor" in text
    assert "(would fire on entering Verbal Commitment)" in text
    assert e2e.signrequest.create_calls == 0 and e2e.daemon.store.list_jobs() == []

    renewal = e2e.opportunity_id("Northwind - Fleet Telematics Renewal")
    lines.clear()
    run_plan(crm=daemon.crm, providers=daemon.providers, mapping=daemon.mappings.current, opportunity_id=renewal,
             limits=PdfLimits(), callback_base_url="https://c.example",
             templates_dir=daemon.settings.mappings_path.parent, out=lines.append)
    assert ("rule order-form: would not fire, its trigger.filter does not match: record type 'Renewal' is not one "
            "of New_Business") in lines
