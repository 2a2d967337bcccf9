"""Demo data for the sandbox: reps, accounts, contacts with roles, and opportunities with quotes."""

from __future__ import annotations

from connector.sandbox.pdfgen import text_pdf


def _quote(number: str, account: str, amount: int) -> bytes:
    return text_pdf([
        [f"Quote {number}", f"Customer: {account}", f"Total: {amount:,} USD", "", "Valid for 30 days."],
        ["Terms and conditions", "1. Payment within 30 days.", "", "Signature: ____________________"],
    ], title=f"Quote {number}")


TERMS = text_pdf([["Terms and Conditions", "1. Delivery within 30 days.", "2. Payment within 30 days."],
                  ["3. Governing law: England and Wales.", "", "Signature: ____________________"]],
                 title="Terms and Conditions")


def seed(sim) -> dict:
    reps = [sim.create_record("User", {"FirstName": "Rita", "LastName": "Rep", "Email": "rita.rep@sandbox.example",
                                       "Username": "rita.rep@sandbox.example"}),
            sim.create_record("User", {"FirstName": "Sam", "LastName": "Seller", "Email": "sam@sandbox.example",
                                       "Username": "sam@sandbox.example"})]
    deals = [
        ("Acme Corp", "Acme - 500 Widgets", "Q-1001", 50000, ("Dana", "Lee", "dana.lee@acme.example"),
         ("Omar", "Price", "omar.price@acme.example"), "pdf"),
        ("Globex", "Globex - Annual Licence", "Q-1002", 120000, ("Grace", "Hopper", "grace@globex.example"),
         ("Hank", "Scorpio", "hank@globex.example"), "pdf"),
        ("Initech", "Initech - TPS Upgrade", "Q-1003", 18000, ("Peter", "Gibbons", "peter@initech.example"),
         ("Bill", "Lumbergh", "bill@initech.example"), "pdf"),
        ("Umbrella", "Umbrella - Word quote (not a PDF)", "Q-1004", 9000,
         ("Alice", "Abernathy", "alice@umbrella.example"), ("Albert", "Wesker", "wesker@umbrella.example"), "docx"),
        ("Hooli", "Hooli - Signer without email", "Q-1005", 30000, ("Gavin", "Belson", None),
         ("Jian", "Yang", "jian@hooli.example"), "pdf"),
    ]
    ids: dict = {"users": reps, "accounts": [], "opportunities": {}}
    for index, (account_name, name, quote, amount, maker, buyer, kind) in enumerate(deals):
        account = sim.create_record("Account", {"Name": account_name})
        ids["accounts"].append(account)
        contacts = []
        for first, last, email in (maker, buyer):
            fields = {"FirstName": first, "LastName": last, "AccountId": account, "MobilePhone": "+15550100"}
            if email:
                fields["Email"] = email
            contacts.append(sim.create_record("Contact", fields))
        opportunity = sim.create_record("Opportunity", {
            "Name": name, "StageName": "Qualification" if index % 2 else "Prospecting", "CloseDate": "2026-12-31",
            "AccountId": account, "Amount": amount, "OwnerId": reps[index % 2]})
        sim.create_record("OpportunityContactRole", {"OpportunityId": opportunity, "ContactId": contacts[0],
                                                     "Role": "Decision Maker", "IsPrimary": True})
        sim.create_record("OpportunityContactRole", {"OpportunityId": opportunity, "ContactId": contacts[1],
                                                     "Role": "Economic Buyer", "IsPrimary": False})
        if kind == "pdf":
            sim.attach_file(opportunity, f"Quote {quote}", f"quote-{quote}.pdf", _quote(quote, account_name, amount))
            sim.attach_file(opportunity, "Terms and Conditions", "terms.pdf", TERMS)
        else:
            sim.attach_file(opportunity, f"Quote {quote}", f"quote-{quote}.docx", b"PK\x03\x04 not a PDF")
        ids["opportunities"][name] = opportunity
    return ids
