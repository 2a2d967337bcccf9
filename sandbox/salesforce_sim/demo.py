"""Demo data for the sandbox: two sales reps, three customer accounts with their contacts, two
opportunity record types (New_Business, Renewal), and five open opportunities with contact roles, a
quote and the terms and conditions attached.

The deals start in Prospecting or Qualification, stages no signing rule watches, so nothing is sent
until someone moves a deal on the console. What each deal shows (README, "Two commands"; each outcome
is pinned by tests/e2e/test_demo_walkthrough.py):
- Northwind - Fleet Telematics Renewal and Contoso - Lab Data Platform: every stage signs through;
  at Verbal Commitment the renewal gets only the terms (the order-form rule wants New_Business).
- Northwind - Warehouse Scanners: only a decision maker, so the rules that also want an economic buyer
  (Contract Sent, Proposal, Negotiation) write back an Error naming the missing role; Verbal
  Commitment (decision maker only) sends the order form and the terms.
- Contoso - Compliance Training Seats: its quote is a Word file, so the quote rules write back an Error
  saying it is not a PDF; at Verbal Commitment (9,600, under the order form's 10,000) only the terms go.
- Fabrikam - Route Optimisation Pilot: the decision maker has no email: every rule writes back an
  Error saying so.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from sandbox.pdfgen import text_pdf

if TYPE_CHECKING:
    from sandbox.salesforce_sim import SalesforceSimulator

REPS = [("Rita", "Patel", "rita.patel@sandbox.example", "Account Executive"),
        ("Sam", "Okafor", "sam.okafor@sandbox.example", "Senior Account Executive")]
ACCOUNTS = [("Northwind Traders", "London", "Wholesale"),
            ("Contoso Pharmaceuticals", "Basel", "Life Sciences"),
            ("Fabrikam Logistics", "Rotterdam", "Transportation")]
RECORD_TYPES = [("New_Business", "New Business"), ("Renewal", "Renewal")]
# account index, first name, last name, title, email (None: this contact has none), mobile
CONTACTS = [
    (0, "Dana", "Whitfield", "Chief Financial Officer", "dana.whitfield@northwind.example", "+447700900101"),
    (0, "Omar", "Haddad", "Head of Procurement", "omar.haddad@northwind.example", "+447700900102"),
    (1, "Grace", "Liu", "VP Operations", "grace.liu@contoso.example", "+41790000103"),
    (1, "Henrik", "Berg", "Finance Director", "henrik.berg@contoso.example", "+41790000104"),
    (2, "Marta", "Kowalski", "Chief Operating Officer", None, "+31600000105"),
    (2, "Pieter", "de Vries", "Purchasing Manager", "pieter.devries@fabrikam.example", "+31600000106"),
]
# name, account, stage, amount, quote number, file kind, decision maker, economic buyer (contact indexes), rep,
# record type
DEALS = [
    ("Northwind - Fleet Telematics Renewal", 0, "Prospecting", 48000, "Q-1001", "pdf", 0, 1, 0, "Renewal"),
    ("Northwind - Warehouse Scanners", 0, "Qualification", 22500, "Q-1002", "pdf", 1, None, 1, "New_Business"),
    ("Contoso - Lab Data Platform", 1, "Prospecting", 136000, "Q-1003", "pdf", 2, 3, 1, "New_Business"),
    ("Contoso - Compliance Training Seats", 1, "Qualification", 9600, "Q-1004", "docx", 3, 2, 0, "New_Business"),
    ("Fabrikam - Route Optimisation Pilot", 2, "Prospecting", 31000, "Q-1005", "pdf", 4, 5, 0, "New_Business"),
]
TERMS = text_pdf([
    ["Terms and Conditions", "1. Delivery within 30 days of signature.", "2. Payment within 30 days."],
    ["3. Governing law: England and Wales.", "", "Signature: ____________________"],
], title="Terms and Conditions")


def _quote(number: str, account: str, deal: str, amount: int) -> bytes:
    return text_pdf([
        [f"Quote {number}", f"Customer: {account}", f"Subject: {deal}", f"Total: {amount:,} USD",
         "", "Valid for 30 days."],
        ["Acceptance", "By signing below the customer accepts this quote.", "",
         "Signature: ____________________"],
    ], title=f"Quote {number}")


def _word_document(number: str) -> bytes:
    """Bytes shaped like a .docx (a ZIP container), which a signing rule that wants PDFs must skip."""
    return b"PK\x03\x04\x14\x00\x06\x00" + f"[Content_Types].xml word/document.xml Quote {number}".encode()


def seed(sim: SalesforceSimulator) -> dict:
    reps = [sim.create_record("User", {"FirstName": first, "LastName": last, "Email": email,
                                       "Username": email, "Title": title})
            for first, last, email, title in REPS]
    accounts = [sim.create_record("Account", {"Name": name, "BillingCity": city, "Industry": industry,
                                              "OwnerId": reps[index % 2]})
                for index, (name, city, industry) in enumerate(ACCOUNTS)]
    contacts = []
    for account, first, last, title, email, mobile in CONTACTS:
        fields = {"FirstName": first, "LastName": last, "Title": title, "AccountId": accounts[account],
                  "MobilePhone": mobile, "MailingCity": ACCOUNTS[account][1]}
        if email:
            fields["Email"] = email
        contacts.append(sim.create_record("Contact", fields))
    record_types = {developer: sim.create_record_type(developer, label) for developer, label in RECORD_TYPES}
    opportunities = {}
    for name, account, stage, amount, quote, kind, maker, buyer, rep, record_type in DEALS:
        close = date.today() + timedelta(days=45 + 15 * len(opportunities))
        opportunity = sim.create_record("Opportunity", {
            "Name": name, "StageName": stage, "Amount": amount, "AccountId": accounts[account],
            "OwnerId": reps[rep], "CloseDate": close.isoformat(), "RecordTypeId": record_types[record_type]})
        sim.create_record("OpportunityContactRole", {"OpportunityId": opportunity,
                                                     "ContactId": contacts[maker],
                                                     "Role": "Decision Maker", "IsPrimary": True})
        if buyer is not None:
            sim.create_record("OpportunityContactRole", {"OpportunityId": opportunity,
                                                         "ContactId": contacts[buyer],
                                                         "Role": "Economic Buyer", "IsPrimary": False})
        account_name = ACCOUNTS[account][0]
        if kind == "pdf":
            quote_pdf = _quote(quote, account_name, name, amount)
            sim.attach_file(opportunity, f"Quote {quote}", f"Quote {quote}.pdf", quote_pdf)
        else:
            sim.attach_file(opportunity, f"Quote {quote}", f"Quote {quote}.docx", _word_document(quote))
        sim.attach_file(opportunity, "Terms and Conditions", "Terms and Conditions.pdf", TERMS)
        opportunities[name] = opportunity
    return {"integration_user": sim.integration_user_id, "users": reps, "accounts": accounts,
            "record_types": record_types,
            "contacts": {f"{c[1]} {c[2]}": contact for c, contact in zip(CONTACTS, contacts, strict=True)},
            "opportunities": opportunities}
