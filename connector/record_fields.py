"""Which Opportunity fields the loaded rules need beyond the connector's own: filters and merge fields.

The poll query selects exactly these, so a rule that merges `{{Account.BillingCity}}` or filters on
`Amount` costs no extra query per opportunity.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

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
    """Field paths to select for `rules`, sorted; the ones every poll selects anyway are left out."""
    paths = {path for rule in rules for path in filter_paths(rule) | merge_paths(rule)}
    return tuple(sorted(paths - merge_fields.BASE_PATHS))
