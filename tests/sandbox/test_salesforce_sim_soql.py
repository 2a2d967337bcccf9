"""The simulator's SOQL parser and Id rules, without a server."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from sandbox.salesforce_sim.auth import Sessions
from sandbox.salesforce_sim.errors import SfError
from sandbox.salesforce_sim.ids import IdFactory, canonical_id, checksum_suffix
from sandbox.salesforce_sim.soql import Comparison, Logical, Query, parse


def test_parses_fields_subqueries_conditions_order_limit_and_offset():
    query = parse("SELECT Id, Owner.Name, (SELECT Role FROM OpportunityContactRoles WHERE IsPrimary = true "
                  "ORDER BY Role DESC NULLS LAST LIMIT 5) FROM Opportunity "
                  "WHERE (StageName IN ('Proposal', 'Contract Sent') OR Amount >= 10.5) AND NOT Name LIKE 'x%' "
                  "ORDER BY SystemModstamp ASC, Id LIMIT 10 OFFSET 5")
    assert query.sobject == "Opportunity" and query.fields[:2] == ["Id", "Owner.Name"]
    child = query.fields[2]
    assert isinstance(child, Query) and child.sobject == "OpportunityContactRoles" and child.limit == 5
    assert (child.order[0].field, child.order[0].descending, child.order[0].nulls_last) == ("Role", True, True)
    assert isinstance(query.where, Logical) and query.where.op == "AND"
    either, negated = query.where.parts
    assert either.op == "OR" and either.parts[0].value == ["Proposal", "Contract Sent"]
    assert either.parts[1].value == 10.5 and negated.op == "NOT"
    assert [(o.field, o.descending, o.nulls_last) for o in query.order] == [
        ("SystemModstamp", False, False), ("Id", False, False)]
    assert (query.limit, query.offset) == (10, 5)


@pytest.mark.parametrize(("literal", "expected"), [
    ("2024-05-20T14:00:00Z", datetime(2024, 5, 20, 14, tzinfo=UTC)),
    ("2024-05-20T16:00:00+02:00", datetime(2024, 5, 20, 14, tzinfo=UTC)),
    ("2024-05-20T14:00:00.250Z", datetime(2024, 5, 20, 14, 0, 0, 250000, tzinfo=UTC)),
    ("2024-05-20", date(2024, 5, 20)),
    ("'O\\'Brien'", "O'Brien"),
    ("'back\\\\slash'", "back\\slash"),
    ("'two\\nlines'", "two\nlines"),
    ("-3", -3),
    ("null", None),
    ("TRUE", True),
])
def test_literals(literal, expected):
    comparison = parse(f"SELECT Id FROM Account WHERE Name = {literal}").where
    assert isinstance(comparison, Comparison) and comparison.value == expected


def test_like_patterns_honour_escaped_wildcards():
    pattern = parse(r"SELECT Id FROM Account WHERE Name LIKE '100\%_off%'").where.pattern
    assert pattern.fullmatch("100%!off the price") and not pattern.fullmatch("1000!off")


@pytest.mark.parametrize(("soql", "code"), [
    ("SELECT Id FROM Account WHERE", "MALFORMED_QUERY"),
    ("SELECT Id FROM Account WHERE Name = 'a' AND Name = 'b' OR Name = 'c'", "MALFORMED_QUERY"),
    ("SELECT Id FROM Account WHERE Name = 'unterminated", "MALFORMED_QUERY"),
    ("SELECT Id FROM Account WHERE Name = 'bad \\q escape'", "MALFORMED_QUERY"),
    ("SELECT COUNT() FROM Account", "MALFORMED_QUERY"),
    ("SELECT Id FROM Account WHERE CreatedDate > 2024-05-20T14:00:00", "MALFORMED_QUERY"),
    ("SELECT Id FROM Account WHERE CloseDate = 2024-13-01", "MALFORMED_QUERY"),
    ("SELECT Id FROM Account WHERE Id IN ()", "MALFORMED_QUERY"),
    ("SELECT Id FROM Account LIMIT 5 extra", "MALFORMED_QUERY"),
    ("SELECT Id FROM Account; DELETE", "MALFORMED_QUERY"),
    ("SELECT Id FROM Account OFFSET 2001", "NUMBER_OUTSIDE_VALID_RANGE"),
])
def test_malformed_statements(soql, code):
    with pytest.raises(SfError) as raised:
        parse(soql)
    assert (raised.value.status, raised.value.code) == (400, code)


def test_and_or_may_mix_inside_parentheses():
    where = parse("SELECT Id FROM Account WHERE Name = 'a' AND (Name = 'b' OR Name = 'c')").where
    assert where.op == "AND" and where.parts[1].op == "OR"


def test_ids_carry_the_case_checksum_and_are_case_insensitive_at_18_characters():
    assert checksum_suffix("001A0000006Vm9r") == "IAC"  # the example the checksum rule is usually shown with
    assert canonical_id("001A0000006Vm9r") == "001A0000006Vm9rIAC"
    assert canonical_id("001a0000006vm9riac") == "001A0000006Vm9rIAC"
    assert canonical_id("001A0000006Vm9rZZZ") is None  # a suffix that cannot match these characters
    assert canonical_id("001A0000006Vm9") is None and canonical_id("001A0000006Vm9r-AC") is None
    made = IdFactory().new("006")
    assert len(made) == 18 and made.startswith("006") and canonical_id(made.lower()) == made


def test_sessions_expire():
    assert not Sessions(ttl_seconds=0).valid(Sessions(ttl_seconds=0).issue())
    live = Sessions(ttl_seconds=60)
    token = live.issue()
    assert token.startswith("00D") and "!" in token and live.valid(token) and not live.valid(token + "x")
    live.expire_all()
    assert not live.valid(token)
