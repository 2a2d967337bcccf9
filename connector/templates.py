"""Merge fields in subjects and messages: {{Opportunity.Name}}, {{Account.Name}}, {{Owner.Name}}."""

from __future__ import annotations

from connector.crm import Opportunity
from mappings.models import MERGE_FIELD


def merge_values(opportunity: Opportunity) -> dict[str, str]:
    return {
        "Opportunity.Id": opportunity.id,
        "Opportunity.Name": opportunity.name,
        "Opportunity.StageName": opportunity.stage,
        "Account.Name": opportunity.account_name or "",
        "Owner.Name": opportunity.owner_name or "",
        "Owner.Email": opportunity.owner_email or "",
    }


def render(template: str, opportunity: Opportunity) -> str:
    values = merge_values(opportunity)
    return MERGE_FIELD.sub(lambda m: values.get(m.group(1), ""), template)
