"""Opportunities built in the Salesforce simulator for end-to-end tests."""

from __future__ import annotations

from connector.sandbox.pdfgen import text_pdf

QUOTE_PDF = text_pdf([["Quote Q-9001", "500 widgets at 100 USD"], ["Terms and conditions"]], title="Quote")


def make_deal(salesforce, name: str, *, signer_email: str | None = "dana@example.com",
              file: bytes = QUOTE_PDF, title: str = "Quote Q-9001", filename: str = "quote.pdf",
              extra_files: tuple[tuple[str, str, bytes], ...] = ()) -> str:
    account = salesforce.create_record("Account", {"Name": f"{name} Inc"})
    decision_maker = {"FirstName": "Dana", "LastName": "Signer", "AccountId": account, "MobilePhone": "+15550100"}
    if signer_email:
        decision_maker["Email"] = signer_email
    dana = salesforce.create_record("Contact", decision_maker)
    eli = salesforce.create_record("Contact", {"FirstName": "Eli", "LastName": "Buyer", "AccountId": account,
                                               "Email": f"eli.{name.lower().replace(' ', '')}@example.com"})
    opportunity = salesforce.create_record("Opportunity", {
        "Name": name, "StageName": "Qualification", "CloseDate": "2026-12-31", "AccountId": account, "Amount": 50000,
    })
    salesforce.create_record("OpportunityContactRole", {
        "OpportunityId": opportunity, "ContactId": dana, "Role": "Decision Maker", "IsPrimary": True})
    salesforce.create_record("OpportunityContactRole", {
        "OpportunityId": opportunity, "ContactId": eli, "Role": "Economic Buyer", "IsPrimary": False})
    salesforce.attach_file(opportunity, title, filename, file)
    for extra_title, extra_name, content in extra_files:
        salesforce.attach_file(opportunity, extra_title, extra_name, content)
    return opportunity


def sign(sim, request_id: str, email: str) -> None:
    """Sign as `email`, passing the SMS code step first when the request asks for one."""
    try:
        sim.sign(request_id, email)
    except ValueError as refused:
        if "SMS code" not in str(refused):
            raise
        assert sim.enter_sms_code(request_id, email, sim.sms_code(request_id, email))
        sim.sign(request_id, email)
