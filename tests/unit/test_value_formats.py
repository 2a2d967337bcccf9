"""Amounts, numbers and dates in merge fields print as the rule's language writes them (connector/documents/formatting.py)."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from pypdf import PdfReader

from config.settings import REPO_ROOT
from connector.documents.formatting import ValueFormat
from connector.documents.pdf_forms import fill
from connector.documents.templates import render
from connector.ports.crm import Opportunity
from mappings.loader import MappingError, parse_mapping
from tests.unit.conftest import RULES

NBSP = "\u00a0"
OPPORTUNITY = Opportunity(
    id="006000000000001AAA", name="Fleet", stage="Contract Sent", system_modstamp=datetime(2026, 1, 1, tzinfo=UTC),
    account_name="Acme", owner_name="Rita Rep", owner_email="rita@acme.example",
    values={"Amount": 22500.0, "ExpectedRevenue": 1250.5, "Probability": 12.5, "CloseDate": "2026-12-04",
            "CreatedDate": "2026-03-01T16:25:00.000+0000", "Seats__c": 48000.0, "Account.BillingCity": "Leeds",
            "Account.AccountNumber": "2026-12-04X", "IsPrivate": False})
TEXT = ("{{Opportunity.Amount}} | {{Opportunity.ExpectedRevenue}} | {{Opportunity.Probability}} | "
        "{{Opportunity.Seats__c}} | {{Opportunity.CloseDate}} | {{Opportunity.CreatedDate}} | "
        "{{Account.BillingCity}} {{Account.AccountNumber}} {{Opportunity.IsPrivate}}")


@pytest.mark.parametrize(("language", "currency", "expected"), [
    ("en", None, "22,500.00 | 1,250.50 | 12.5 | 48,000 | December 4, 2026 | March 1, 2026 4:25\xa0PM UTC"),
    ("en", "USD", "$22,500.00 | $1,250.50 | 12.5 | 48,000 | December 4, 2026 | March 1, 2026 4:25\xa0PM UTC"),
    ("en-gb", "GBP", "£22,500.00 | £1,250.50 | 12.5 | 48,000 | 4 December 2026 | 1 March 2026 16:25 UTC"),
    ("fr", None, "22\xa0500,00 | 1\xa0250,50 | 12,5 | 48\xa0000 | 4 décembre 2026 | 1 mars 2026 16:25 UTC"),
    ("fr", "EUR", "22\xa0500,00\xa0€ | 1\xa0250,50\xa0€ | 12,5 | 48\xa0000 | 4 décembre 2026 | 1 mars 2026 16:25 UTC"),
    ("de", None, "22.500,00 | 1.250,50 | 12,5 | 48.000 | 4. Dezember 2026 | 1. März 2026 16:25 UTC"),
    ("de", "USD", "22.500,00\xa0$ | 1.250,50\xa0$ | 12,5 | 48.000 | 4. Dezember 2026 | 1. März 2026 16:25 UTC"),
    ("en", "JPY", "¥22,500 | ¥1,250 | 12.5 | 48,000 | December 4, 2026 | March 1, 2026 4:25\xa0PM UTC"),
])
def test_amounts_numbers_and_dates_print_in_the_rule_language(language, currency, expected):
    rendered = render(TEXT, OPPORTUNITY, formats=ValueFormat(language, currency))
    assert rendered == f"{expected} | Leeds 2026-12-04X false"


def test_the_default_is_english_without_a_currency_and_empty_fields_print_nothing():
    empty = replace(OPPORTUNITY, values={"Amount": None, "CloseDate": None})
    assert render("[{{Opportunity.Amount}}] [{{Opportunity.CloseDate}}]", empty) == "[] []"
    assert render("{{Opportunity.Amount}} by {{Opportunity.CloseDate}}", OPPORTUNITY) == (
        "22,500.00 by December 4, 2026")


def test_a_language_cldr_does_not_know_prints_as_its_base_language_or_english():
    assert ValueFormat("de-zz").amount(22500) == "22.500,00"
    assert ValueFormat("xx").amount(22500) == "22,500.00"
    assert ValueFormat("xx").text("Opportunity.CloseDate", "2026-12-04") == "December 4, 2026"


@pytest.mark.parametrize("currency", ["usd", "US", "USX", "DOLLAR"])
def test_a_rule_currency_must_be_an_iso_4217_code(currency):
    with pytest.raises(MappingError) as info:
        parse_mapping(RULES + f"    currency: {currency}\n", "rules.yaml")
    assert "is not an ISO 4217 currency code" in str(info.value.problems[0])
    assert parse_mapping(RULES + "    currency: EUR\n").rules[0].currency == "EUR"


def test_the_filled_order_form_shows_formatted_values_and_no_question_marks():
    template = (REPO_ROOT / "mappings" / "templates" / "order_form.pdf").read_bytes()
    formats = ValueFormat("fr", "USD")
    values = {"amount": render("{{Opportunity.Amount}}", OPPORTUNITY, formats=formats),
              "close_date": render("{{Opportunity.CloseDate}}", OPPORTUNITY, formats=formats),
              "customer_name": ValueFormat("he", "USD").amount(22500)}  # with invisible direction marks
    text = PdfReader(io.BytesIO(fill(template, values))).pages[0].extract_text()
    assert f"22{NBSP}500,00{NBSP}$US" in text and "4 décembre 2026" in text
    assert "?" not in text
