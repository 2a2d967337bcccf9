"""The org check of fields the rules read, against describe results shaped like Salesforce's."""

from __future__ import annotations

from connector.admin.org_fields import referenced_field_problems
from mappings.loader import parse_mapping
from tests.unit.conftest import RULES


def _field(name: str, *, relationship: str | None = None, to: str | None = None) -> dict:
    return {"name": name, "relationshipName": relationship, "referenceTo": [to] if to else []}


OPPORTUNITY = {"fields": [_field("Id"), _field("Name"), _field("Amount"),
                          _field("AccountId", relationship="Account", to="Account"),
                          _field("OwnerId", relationship="Owner", to="User")]}


def _messages(extra: str) -> list[str]:
    mapping = parse_mapping(RULES.replace('    trigger: {stages: ["Contract Sent"]}\n', extra))
    asked: list[str] = []

    def describe(name: str) -> dict:
        asked.append(name)
        return {"fields": [_field("Name"), _field("Industry")]}

    return [f.message for f in referenced_field_problems(mapping, OPPORTUNITY, describe)] + [f"described {asked}"]


def test_an_org_without_record_types_or_the_relationship_is_named():
    extra = ('    trigger:\n      stages: ["Contract Sent"]\n'
             '      filter: {record_types: [New_Business], field_equals: {Partner.Name: X, Account.Industry: Retail}}\n')
    assert _messages(extra) == [
        "record types are not enabled for Opportunity in this org (no RecordTypeId field)",
        "Opportunity has no relationship 'Partner'",
        "described ['Account']",
    ]


def test_fields_present_in_the_org_pass_and_no_parent_is_described_when_none_is_read():
    assert _messages('    trigger:\n      stages: ["Contract Sent"]\n      filter: {amount: {min: 1}}\n') == [
        "described []"]
