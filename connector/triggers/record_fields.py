"""Which Opportunity fields the loaded rules need beyond the connector's own: filters and merge fields.

The poll query selects exactly these, so a rule that merges `{{Account.BillingCity}}` or filters on
`Amount` costs no extra query per opportunity.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from connector.ports.crm import Opportunity
from mappings import merge_fields
from mappings.models import Rule, TemplateDocument

RECORD_TYPE = "RecordType.DeveloperName"
AMOUNT = "Amount"


def _texts(rule: Rule) -> Iterator[str]:
    yield rule.subject
    yield rule.message
    for document in rule.documents:
        if isinstance(document, TemplateDocument):
            yield document.template.title
            yield from document.template.fields.values()


def filter_paths(rule: Rule) -> set[str]:
    found = rule.trigger.filter
    if found is None:
        return set()
    return ({RECORD_TYPE} if found.record_types else set()) | ({AMOUNT} if found.amount else set()) | set(
        found.field_equals)


def merge_paths(rule: Rule) -> set[str]:
    paths = (merge_fields.soql_path(name) for text in _texts(rule) for name in merge_fields.names_in(text))
    return {path for path in paths if path}


def fields_needed(rules: Iterable[Rule]) -> tuple[str, ...]:
    """Field paths the poll must read for `rules`, sorted. Merge fields the connector reads for itself
    (Opportunity.Name, Owner.Email...) are left out; the CRM selects a path only once either way."""
    rules = list(rules)
    merged = {path for rule in rules for path in merge_paths(rule)} - merge_fields.BASE_PATHS
    return tuple(sorted(merged | {path for rule in rules for path in filter_paths(rule)}))


def record_value(opportunity: Opportunity, path: str) -> object:
    """The value at field path `path`: from the fields the poll read, or the connector's own ones."""
    if path in opportunity.values:
        return opportunity.values[path]
    own = {"id": opportunity.id, "name": opportunity.name, "stagename": opportunity.stage,
           "ownerid": opportunity.owner_id, "accountid": opportunity.account_id,
           "account.name": opportunity.account_name, "owner.name": opportunity.owner_name,
           "owner.email": opportunity.owner_email}
    return own.get(path.lower())
