"""trigger.filter: the model's checks, the match itself, and the poller creating no job for a mismatch."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest

from connector.ports.crm import Opportunity
from connector.triggers.filters import mismatch
from mappings.loader import MappingError, parse_mapping
from mappings.models import RecordFilter
from tests.unit.conftest import RULES

FILTERED = RULES.replace('    trigger: {stages: ["Contract Sent"]}\n', """    trigger:
      stages: ["Contract Sent"]
      filter:
        record_types: [New_Business]
        amount: {min: 10000, max: 500000}
        field_equals: {Type: New Customer, Account.Industry: Retail, IsPrivate: false}
""")


def _opportunity(**values) -> Opportunity:
    from datetime import UTC, datetime

    return Opportunity(id="006000000000001AAA", name="Deal", stage="Contract Sent",
                       system_modstamp=datetime(2026, 1, 1, tzinfo=UTC), values=values)


MATCHING = {"RecordType.DeveloperName": "New_Business", "Amount": 25000.0, "Type": "New Customer",
            "Account.Industry": "Retail", "IsPrivate": False}
FILTER = parse_mapping(FILTERED).rules[0].trigger.filter


def test_the_filter_loads_with_its_three_conditions():
    assert FILTER.record_types == ["New_Business"]
    assert (FILTER.amount.min, FILTER.amount.max) == (10000, 500000)
    assert FILTER.field_equals == {"Type": "New Customer", "Account.Industry": "Retail", "IsPrivate": False}


@pytest.mark.parametrize(("change", "reason"), [
    ({"RecordType.DeveloperName": "Renewal"}, "record type 'Renewal' is not one of New_Business"),
    ({"RecordType.DeveloperName": None}, "it has no record type"),
    ({"Amount": 9999.99}, "Amount 9999.99 is below 10000"),
    ({"Amount": 500001}, "Amount 500001 is above 500000"),
    ({"Amount": None}, "its Amount is empty"),
    ({"Type": "Existing Customer"}, "Type is 'Existing Customer', not 'New Customer'"),
    ({"IsPrivate": None}, "IsPrivate is None, not False"),
])
def test_each_condition_says_why_it_does_not_match(change, reason):
    assert mismatch(FILTER, _opportunity(**MATCHING)) is None
    assert mismatch(FILTER, _opportunity(**{**MATCHING, **change})) == reason


def test_a_filter_on_a_field_the_connector_reads_anyway_uses_it():
    mapping = parse_mapping(RULES.replace('    trigger: {stages: ["Contract Sent"]}\n',
                                          '    trigger:\n      stages: ["Contract Sent"]\n'
                                          '      filter: {field_equals: {Name: Deal, Owner.Email: null}}\n'))
    from connector.triggers.record_fields import fields_needed

    assert fields_needed(mapping.rules) == ("Name", "Owner.Email")
    rule_filter = mapping.rules[0].trigger.filter
    assert mismatch(rule_filter, _opportunity()) is None
    assert mismatch(rule_filter, replace(_opportunity(), name="Other")) == "Name is 'Other', not 'Deal'"


def test_numbers_compare_as_numbers_and_null_matches_an_empty_field():
    rule_filter = RecordFilter(field_equals={"Probability": 90, "NextStep": None})
    assert mismatch(rule_filter, _opportunity(Probability=90.0, NextStep=None)) is None
    dated = parse_mapping(RULES.replace('    trigger: {stages: ["Contract Sent"]}\n', '    trigger:\n      stages: '
                                        '["Contract Sent"]\n      filter: {field_equals: {CloseDate: 2026-12-31}}\n'))
    assert mismatch(dated.rules[0].trigger.filter, _opportunity(CloseDate="2026-12-31")) is None
    assert mismatch(dated.rules[0].trigger.filter, _opportunity(CloseDate="2027-01-31")) is not None
    assert mismatch(rule_filter, _opportunity(Probability=90.0, NextStep="Call")) == "NextStep is 'Call', not None"
    assert mismatch(None, _opportunity()) is None


@pytest.mark.parametrize(("yaml_filter", "expected"), [
    ("{amount: {min: 10, max: 5}}", "rules.yaml:7:24: rule quote: rules.0.trigger.filter.amount: amount.min (10) "
                                    "is above amount.max (5)"),
    ("{record_typs: [X]}", "rules.yaml:7:16: rule quote: rules.0.trigger.filter.record_typs: unknown key "
                           "'record_typs'; did you mean 'record_types'?"),
    ("{field_equals: {'Bad Name': 1}}", "rules.yaml:7:31: rule quote: rules.0.trigger.filter.field_equals.Bad Name: "
                                        "'Bad Name' is not a field API name (e.g. Type, Region__c or Account.Industry)"),
    ("{record_types: [' ']}", "rules.yaml:7:31: rule quote: rules.0.trigger.filter.record_types.0: String should "
                              "have at least 1 character"),
    ("{amount: {min: lots}}", "rules.yaml:7:30: rule quote: rules.0.trigger.filter.amount.min: Input should be a "
                              "valid number"),
])
def test_filter_mistakes_are_located(yaml_filter, expected):
    text = RULES.replace('    trigger: {stages: ["Contract Sent"]}\n',
                         f'    trigger:\n      stages: ["Contract Sent"]\n      filter: {yaml_filter}\n')
    with pytest.raises(MappingError) as info:
        parse_mapping(text, "rules.yaml")
    assert str(info.value.problems[0]).startswith(expected)


def test_the_poller_asks_for_the_filter_fields_and_creates_no_job_for_a_mismatch(world, caplog):
    world.mapping = parse_mapping(FILTERED)
    matching = world.add_opportunity("006000000000001AAA")
    renewal = world.add_opportunity("006000000000002AAA")
    world.crm.opportunities[matching.id] = replace(matching, values=MATCHING)
    world.crm.opportunities[renewal.id] = replace(renewal, values={**MATCHING, "RecordType.DeveloperName": "Renewal"})
    caplog.set_level(logging.DEBUG, logger="connector.triggers")
    daemon = world.daemon()
    daemon.run_once()

    assert world.crm.polled_fields == [("Account.Industry", "Amount", "IsPrivate", "RecordType.DeveloperName",
                                        "Type")]
    assert [job.opportunity_id for job in daemon.store.list_jobs()] == [matching.id]
    assert (f"rule quote does not fire for opportunity {renewal.id} (Deal 2AAA): record type 'Renewal' is not one "
            "of New_Business") in caplog.text
