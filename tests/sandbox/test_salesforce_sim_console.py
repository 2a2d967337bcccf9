"""The demo data and the sandbox console page."""

from __future__ import annotations

import io

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
