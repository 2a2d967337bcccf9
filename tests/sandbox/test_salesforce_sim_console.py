"""The demo data and the sandbox console page."""

from __future__ import annotations

import io
import re
from datetime import date

import pytest
from pypdf import PdfReader

from tests.sandbox.salesforce_sim_support import make_deal, running_org


@pytest.fixture(scope="module")
def sf_org(tmp_path_factory):
    with running_org(tmp_path_factory.mktemp("tls")) as running:
        running.demo = running.sim.seed_demo()
        yield running


def test_demo_org(sf_org):
    sim, demo = sf_org.sim, sf_org.demo
    assert len(demo["users"]) == 2 and len(demo["accounts"]) == 3 and len(demo["opportunities"]) == 5
    reps = [sim.get_record("User", user) for user in demo["users"]]
    assert all(rep["Name"] and rep["Email"] for rep in reps)
    opportunities = [sim.get_record("Opportunity", o) for o in demo["opportunities"].values()]
    assert {o["StageName"] for o in opportunities} <= {"Prospecting", "Qualification"}
    assert {o["OwnerId"] for o in opportunities} == set(demo["users"])
    roles = sim.records("OpportunityContactRole")
    for opportunity in opportunities:
        mine = [r for r in roles if r["OpportunityId"] == opportunity["Id"]]
        assert [r["Role"] for r in mine if r["IsPrimary"]] == ["Decision Maker"]
    assert sum(1 for o in opportunities if len([r for r in roles if r["OpportunityId"] == o["Id"]]) == 2) >= 2
    emailless = [c for c in sim.records("Contact") if not c["Email"]]
    assert len(emailless) == 1
    assert any(r["ContactId"] == emailless[0]["Id"] and r["Role"] == "Decision Maker" for r in roles)
    quotes = {name: [f for f in sim.files_on(o) if f["title"].startswith("Quote")]
              for name, o in demo["opportunities"].items()}
    assert all(len(found) == 1 for found in quotes.values())
    not_pdf = [name for name, found in quotes.items() if not found[0]["content"].startswith(b"%PDF-")]
    assert len(not_pdf) == 1 and quotes[not_pdf[0]][0]["filename"].endswith(".docx")
    some_pdf = next(found[0] for found in quotes.values() if found[0]["content"].startswith(b"%PDF-"))
    text = PdfReader(io.BytesIO(some_pdf["content"])).pages[0].extract_text()
    assert some_pdf["title"] in text


def test_console_page_is_escaped_and_not_counted(sf_org):
    make_deal(sf_org.sim, "<script>alert('x')</script> & Co")
    before = sf_org.sim.total_api_calls
    page = sf_org.session().get(f"{sf_org.url}/sandbox/", timeout=5)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "<script>alert" not in page.text and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; Co" in page.text
    assert "Northwind - Fleet Telematics Renewal" in page.text and "no email" in page.text
    assert sf_org.sim.total_api_calls == before


def test_console_moves_a_stage_and_serves_files(sf_org):
    opportunity = sf_org.demo["opportunities"]["Contoso - Lab Data Platform"]
    session = sf_org.session()
    moved = session.post(f"{sf_org.url}/sandbox/opportunities/{opportunity}/stage", data={"stage": "Contract Sent"},
                         allow_redirects=False, timeout=5)
    assert moved.status_code == 303 and moved.headers["Location"] == "/sandbox/"
    record = sf_org.sim.get_record("Opportunity", opportunity)
    assert record["StageName"] == "Contract Sent" and record["LastStageChangeDate"] == record["SystemModstamp"]
    assert [h["StageName"] for h in sf_org.sim.records("OpportunityHistory")
            if h["OpportunityId"] == opportunity] == ["Prospecting", "Contract Sent"]
    bad_stage = session.post(f"{sf_org.url}/sandbox/opportunities/{opportunity}/stage", data={"stage": "Won?"},
                             timeout=5)
    assert bad_stage.status_code == 400
    unknown = session.post(f"{sf_org.url}/sandbox/opportunities/006000000000000AAA/stage",
                           data={"stage": "Proposal"}, timeout=5)
    assert unknown.status_code == 404
    [quote] = [f for f in sf_org.sim.files_on(opportunity) if f["title"].startswith("Quote")]
    download = session.get(f"{sf_org.url}/sandbox/files/{quote['version_id']}", timeout=5)
    assert download.content == quote["content"] and download.headers["Content-Type"] == "application/pdf"
    assert session.get(f"{sf_org.url}/sandbox/files/068000000000000AAA", timeout=5).status_code == 404


def _row_of(page: str, name: str) -> str:
    start = page.index(f"<b>{name}</b>")
    return page[start:page.find("</tr>", start)]


def test_the_refresh_keeps_a_stage_picked_but_not_yet_moved(sf_org):
    page = sf_org.session().get(f"{sf_org.url}/sandbox/", timeout=5).text
    head = page[:page.index("</head>")]
    # No unconditional reload: the page's script reloads only while no select differs from the deal's stage.
    assert re.sub(r"<noscript>.*?</noscript>", "", head, flags=re.S).count("http-equiv") == 0
    assert "<noscript><meta http-equiv=\"refresh\" content=\"5\"></noscript>" in head
    assert "select.value !== select.getAttribute(\"data-stage\")" in page and "window.location.reload()" in page
    for opportunity in (sf_org.sim.get_record("Opportunity", o) for o in sf_org.demo["opportunities"].values()):
        row = _row_of(page, opportunity["Name"])
        assert f'data-stage="{opportunity["StageName"]}"' in row and 'autocomplete="off"' in row
        assert f"<option selected>{opportunity['StageName']}</option>" in row


def test_the_row_shows_what_the_filters_read_and_readable_times(sf_org):
    opportunity = sf_org.demo["opportunities"]["Northwind - Warehouse Scanners"]
    sf_org.sim.update_record("Opportunity", opportunity, {"Signing_Status__c": "Sent",
                                                          "Signing_Sent_At__c": "2026-12-04T16:25:07.000+0000"})
    row = _row_of(sf_org.session().get(f"{sf_org.url}/sandbox/", timeout=5).text, "Northwind - Warehouse Scanners")
    assert "Record type: New Business <small>(New_Business)</small>" in row and "Amount: 22,500.00" in row
    close = date.fromisoformat(sf_org.sim.get_record("Opportunity", opportunity)["CloseDate"])
    assert f"Close date: {close.day} {close:%b %Y}" in row
    assert "sent 4 Dec 2026, 16:25:07 UTC" in row
    assert not re.search(r"\d{4}-\d{2}-\d{2}T\d{2}", row)  # no raw ISO times anywhere in the row


def test_two_requests_on_one_stage_are_both_listed_with_their_latest_state(sf_org):
    opportunity = sf_org.demo["opportunities"]["Contoso - Lab Data Platform"]
    for subject in ("Sent for signature: Order Form - Lab (SignRequest 11aa)",
                    "Sent for signature: Terms and Conditions (SignRequest 22bb)",
                    "Signed: Terms and Conditions (SignRequest 22bb)",
                    "Sent for signature: Quote Q-1003, Terms and Conditions (OneSpan Sign pk-33)",
                    "Signature cancelled: Quote Q-1003, Terms and Conditions (OneSpan Sign pk-33)"):
        sf_org.sim.create_record("Task", {"WhatId": opportunity, "Subject": subject, "Status": "Completed"})
    row = _row_of(sf_org.session().get(f"{sf_org.url}/sandbox/", timeout=5).text, "Contoso - Lab Data Platform")
    assert ("<li>Order Form - Lab: <b>Sent, waiting for the signers</b><br><small>SignRequest 11aa</small></li>"
            "<li>Terms and Conditions: <b>Completed, everyone signed</b><br><small>SignRequest 22bb</small></li>"
            "<li>Quote Q-1003, Terms and Conditions: <b>Cancelled</b><br><small>OneSpan Sign pk-33</small></li>") in row
