"""Opportunities built in the Salesforce simulator for end-to-end tests."""

from __future__ import annotations

from sandbox.pdfgen import text_pdf

QUOTE_PDF = text_pdf([["Quote Q-9001", "500 widgets at 100 USD"], ["Terms and conditions"]], title="Quote")


def record_type(salesforce, developer_name: str) -> str:
    """The Opportunity record type `developer_name` (made once, as an admin would in Setup)."""
    found = [r["Id"] for r in salesforce.records("RecordType") if r["DeveloperName"] == developer_name]
    return found[0] if found else salesforce.create_record_type(developer_name, developer_name.replace("_", " "))


def make_deal(salesforce, name: str, *, signer_email: str | None = "dana@example.com",
              file: bytes | None = QUOTE_PDF, title: str = "Quote Q-9001", filename: str = "quote.pdf",
              extra_files: tuple[tuple[str, str, bytes], ...] = (), amount: float = 50000,
              record_type_name: str | None = None, billing_city: str | None = None) -> str:
    account_fields = {"Name": f"{name} Inc"}
    if billing_city:
        account_fields["BillingCity"] = billing_city
    account = salesforce.create_record("Account", account_fields)
    decision_maker = {"FirstName": "Dana", "LastName": "Signer", "AccountId": account, "MobilePhone": "+15550100"}
    if signer_email:
        decision_maker["Email"] = signer_email
    dana = salesforce.create_record("Contact", decision_maker)
    eli = salesforce.create_record("Contact", {"FirstName": "Eli", "LastName": "Buyer", "AccountId": account,
                                               "Email": f"eli.{name.lower().replace(' ', '')}@example.com"})
    fields = {"Name": name, "StageName": "Qualification", "CloseDate": "2026-12-31", "AccountId": account,
              "Amount": amount}
    if record_type_name:
        fields["RecordTypeId"] = record_type(salesforce, record_type_name)
    opportunity = salesforce.create_record("Opportunity", fields)
    salesforce.create_record("OpportunityContactRole", {
        "OpportunityId": opportunity, "ContactId": dana, "Role": "Decision Maker", "IsPrimary": True})
    salesforce.create_record("OpportunityContactRole", {
        "OpportunityId": opportunity, "ContactId": eli, "Role": "Economic Buyer", "IsPrimary": False})
    if file is not None:
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
