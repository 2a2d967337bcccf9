"""Merge fields: `{{Opportunity.Amount}}`, `{{Account.BillingCity}}`, `{{Owner.Email}}`, `{{Signer1.Name}}`.

Each merge field names one value read by the poll query (or, for `SignerN`, the n-th signer of the
request in signing order). The catalog below is what the loader accepts; custom fields (`..__c`) of the
opportunity, its account and its owner are accepted too, and `check-mappings --against-org` confirms
that they exist in the org.
"""

from __future__ import annotations

import difflib
import re

MERGE_FIELD = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*\}\}")
CUSTOM_FIELD = re.compile(r"^[A-Za-z][A-Za-z0-9_]*__c$")
SIGNER = re.compile(r"^Signer([1-9][0-9]?)\.([A-Za-z]+)$")

# Standard fields per object, by the name used after the dot. Relationship paths in SOQL: the
# opportunity's own fields are selected bare, the others through the Account and Owner relationships.
STANDARD_FIELDS = {
    "Opportunity": ("Id", "Name", "StageName", "Amount", "CloseDate", "Probability", "Type", "LeadSource",
                    "NextStep", "Description", "ExpectedRevenue", "ForecastCategoryName", "CreatedDate"),
    "Account": ("Id", "Name", "AccountNumber", "Phone", "Website", "Industry", "BillingStreet", "BillingCity",
                "BillingState", "BillingPostalCode", "BillingCountry", "ShippingStreet", "ShippingCity",
                "ShippingState", "ShippingPostalCode", "ShippingCountry"),
    "Owner": ("Id", "Name", "FirstName", "LastName", "Email", "Phone", "Title"),
}
SIGNER_FIELDS = ("Name", "FirstName", "LastName", "Email")
# Salesforce currency fields among them: printed as amounts, two decimals or the rule's currency
# (connector/documents/formatting.py says how each kind of value prints).
CURRENCY_FIELDS = frozenset({"Opportunity.Amount", "Opportunity.ExpectedRevenue"})
SOQL_PREFIX = {"Opportunity": "", "Account": "Account.", "Owner": "Owner."}
# Selected by every poll already (the connector needs them for itself).
BASE_PATHS = frozenset({"Id", "Name", "StageName", "Account.Name", "Owner.Name", "Owner.Email"})


def names_in(text: str) -> list[str]:
    return [match.group(1) for match in MERGE_FIELD.finditer(text)]


def _known() -> list[str]:
    return [f"{obj}.{name}" for obj, names in STANDARD_FIELDS.items() for name in names] + [
        f"Signer1.{name}" for name in SIGNER_FIELDS]


def problem_with(name: str) -> str | None:
    """Why `name` is not a merge field the connector can fill, with the nearest valid one; None if it is."""
    obj, _, field = name.partition(".")
    if obj in STANDARD_FIELDS and "." not in field and (field in STANDARD_FIELDS[obj] or CUSTOM_FIELD.match(field)):
        return None
    signer = SIGNER.match(name)
    if signer and signer.group(2) in SIGNER_FIELDS:
        return None
    number = re.match(r"^Signer([0-9]+)\.", name)
    known = [f"Signer{number.group(1)}.{f}" for f in SIGNER_FIELDS] if number else _known()
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f"did you mean {{{{{close[0]}}}}}?" if close else (
        "use Opportunity.<Field>, Account.<Field>, Owner.<Field> (standard or __c custom fields) or "
        "SignerN.Name/FirstName/LastName/Email")
    return f"unknown merge field {{{{{name}}}}}; {hint}"


def check_text(text: str) -> str:
    """A pydantic validator body: `text` back, or ValueError naming its first unknown merge field."""
    for name in names_in(text):
        problem = problem_with(name)
        if problem:
            raise ValueError(problem)
    return text


def soql_path(name: str) -> str | None:
    """The field path the poll query selects for merge field `name` (None for signer fields)."""
    obj, _, field = name.partition(".")
    return SOQL_PREFIX[obj] + field if obj in SOQL_PREFIX else None


def signer_index(name: str) -> int | None:
    match = SIGNER.match(name)
    return int(match.group(1)) if match else None
