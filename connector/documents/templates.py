"""Merge fields in subjects, messages and template documents: {{Opportunity.Amount}}, {{Signer1.Name}}...

Values print as the rule's language writes them (connector/documents/formatting.py): amounts with two decimals or
the rule's currency, dates as long dates, numbers with the language's separators.
"""

from __future__ import annotations

from collections.abc import Sequence

from connector.documents.formatting import ValueFormat
from connector.ports.crm import Opportunity
from connector.ports.provider import SignerSpec
from mappings.merge_fields import MERGE_FIELD, soql_path


def merge_values(opportunity: Opportunity, signers: Sequence[SignerSpec] = ()) -> dict[str, str]:
    values = {
        "Opportunity.Id": opportunity.id,
        "Opportunity.Name": opportunity.name,
        "Opportunity.StageName": opportunity.stage,
        "Account.Name": opportunity.account_name or "",
        "Owner.Name": opportunity.owner_name or "",
        "Owner.Email": opportunity.owner_email or "",
    }
    for number, signer in enumerate(sorted(signers, key=lambda s: s.order), start=1):
        values.update({
            f"Signer{number}.Name": f"{signer.first_name} {signer.last_name}".strip(),
            f"Signer{number}.FirstName": signer.first_name, f"Signer{number}.LastName": signer.last_name,
            f"Signer{number}.Email": signer.email,
        })
    return values


def render(template: str, opportunity: Opportunity, signers: Sequence[SignerSpec] = (),
           formats: ValueFormat | None = None) -> str:
    """`template` with its merge fields filled in, values printed as `formats` (the rule's language and
    currency; default en, no currency) says."""
    values = merge_values(opportunity, signers)
    formats = formats or ValueFormat()

    def value(name: str) -> str:
        if name in values:
            return values[name]
        path = soql_path(name)
        return formats.text(name, opportunity.values.get(path)) if path else ""

    return MERGE_FIELD.sub(lambda m: value(m.group(1)), template)
