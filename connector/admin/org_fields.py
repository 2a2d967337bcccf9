"""Do the fields the rules read (filters, merge fields) exist in the org? Part of `check-mappings --against-org`.

The Opportunity describe is already at hand; the Account, User or other parent describes are fetched
only when a rule reads one of their fields.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator

from connector.triggers.record_fields import AMOUNT, RECORD_TYPE
from mappings import merge_fields
from mappings.checks import Found, rule_texts
from mappings.models import MappingFile, Rule


def _references(rule: Rule, index: int) -> Iterator[tuple[tuple, str, bool]]:
    """(location, field path, point at the key) of every field `rule` reads."""
    if rule.trigger.filter:
        base = ("rules", index, "trigger", "filter")
        if rule.trigger.filter.record_types:
            yield (*base, "record_types"), RECORD_TYPE, True
        if rule.trigger.filter.amount:
            yield (*base, "amount"), AMOUNT, True
        for path in rule.trigger.filter.field_equals:
            yield (*base, "field_equals", path), path, True
    for loc, text in rule_texts(rule, index):
        for name in merge_fields.names_in(text):
            merge_path = merge_fields.soql_path(name)
            if merge_path:
                yield loc, merge_path, False


class _Org:
    def __init__(self, opportunity: dict, describe: Callable[[str], dict]):
        self.describe = describe
        self.objects = {"Opportunity": opportunity}

    def fields(self, sobject: str) -> dict[str, dict]:
        if sobject not in self.objects:
            self.objects[sobject] = self.describe(sobject)
        return {f["name"]: f for f in self.objects[sobject].get("fields", [])}

    def problem(self, path: str) -> str | None:
        *relationships, name = path.split(".")
        sobject = "Opportunity"
        for relationship in relationships:
            parent = next((f for f in self.fields(sobject).values()
                           if (f.get("relationshipName") or "").lower() == relationship.lower()), None)
            if parent is None or not parent.get("referenceTo"):
                if relationship == "RecordType":
                    return "record types are not enabled for Opportunity in this org (no RecordTypeId field)"
                return f"{sobject} has no relationship {relationship!r}"
            sobject = parent["referenceTo"][0]
        fields = self.fields(sobject)
        if name in fields or name.lower() in {n.lower() for n in fields}:
            return None
        close = difflib.get_close_matches(name, list(fields), n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]}?" if close else ""
        return f"field {path} does not exist on {sobject} in this org{hint} (the poll query would fail)"


def referenced_field_problems(mapping: MappingFile, opportunity: dict,
                              describe: Callable[[str], dict]) -> list[Found]:
    org = _Org(opportunity, describe)
    found: list[Found] = []
    for index, rule in enumerate(mapping.rules):
        for loc, path, at_key in _references(rule, index):
            message = org.problem(path)
            if message:
                found.append(Found(loc, message, at_key))
    return found
