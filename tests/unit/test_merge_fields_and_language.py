"""Merge fields beyond the fixed set (opportunity, account, owner, SignerN) and the per-rule language."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connector.documents.templates import render
from connector.ports.crm import Opportunity
from connector.ports.provider import ProviderCapabilities, SignerSpec
from connector.runtime.providers import ProviderConfigError, check_rules_have_providers
from connector.triggers.record_fields import fields_needed
from mappings.loader import MappingError, parse_mapping
from tests.fakes import FakeProvider
from tests.unit.conftest import RULES

OPPORTUNITY = Opportunity(
    id="006000000000001AAA", name="Fleet", stage="Contract Sent", system_modstamp=datetime(2026, 1, 1, tzinfo=UTC),
    account_name="Acme", owner_name="Rita Rep", owner_email="rita@acme.example",
    values={"Amount": 48000.0, "Probability": 12.5, "CloseDate": "2026-12-31", "Account.BillingCity": "Leeds",
            "Owner.Title": None, "Region__c": "EMEA", "IsPrivate": True})
SIGNERS = (SignerSpec("eli@x.io", "Eli", "Buyer", 2), SignerSpec("dana@x.io", "Dana", "Lee", 1))


def _problems(text: str) -> list[str]:
    with pytest.raises(MappingError) as info:
        parse_mapping(text, "rules.yaml")
    return [str(p) for p in info.value.problems]


def test_values_come_from_the_poll_and_signers_count_in_signing_order():
    text = ("{{Opportunity.Amount}} {{Opportunity.Probability}} {{Opportunity.CloseDate}} {{Account.BillingCity}} "
            "[{{Owner.Title}}] {{Owner.Email}} {{Opportunity.Region__c}} {{Opportunity.IsPrivate}} | "
            "{{Signer1.Name}} <{{Signer1.Email}}>, {{Signer2.FirstName}} {{Signer2.LastName}}")
    assert render(text, OPPORTUNITY, SIGNERS) == (
        "48,000.00 12.5 December 31, 2026 Leeds [] rita@acme.example EMEA true | Dana Lee <dana@x.io>, Eli Buyer")


def test_the_poll_selects_exactly_the_merge_fields_the_rules_read():
    text = RULES + ('    subject: "{{Opportunity.Name}} for {{Account.Name}} ({{Account.BillingCity}})"\n'
                    '    message: "{{Opportunity.Amount}} by {{Opportunity.CloseDate}}. {{Owner.Title}} '
                    '{{Owner.Email}} {{Signer1.Email}}"\n')
    text = text.replace('    subject: "Sign {{Opportunity.Name}}"\n', "")
    assert fields_needed(parse_mapping(text).rules) == ("Account.BillingCity", "Amount", "CloseDate", "Owner.Title")


@pytest.mark.parametrize(("text", "message"), [
    ("{{Opportunity.Amout}}", "unknown merge field {{Opportunity.Amout}}; did you mean {{Opportunity.Amount}}?"),
    ("{{Acount.BillingCity}}", "unknown merge field {{Acount.BillingCity}}; did you mean {{Account.BillingCity}}?"),
    ("{{Signer1.Phone}}", "unknown merge field {{Signer1.Phone}}; did you mean {{Signer1.Name}}?"),
    ("{{Contact.X}}", "unknown merge field {{Contact.X}}; use Opportunity.<Field>, Account.<Field>, Owner.<Field>"),
])
def test_unknown_merge_fields_are_refused_with_a_suggestion(text, message):
    problems = _problems(RULES + f'    message: "{text}"\n')
    assert problems[0].startswith(f"rules.yaml:10:14: rule quote: rules.0.message: {message}")


def test_a_signer_number_beyond_the_rule_signers_is_located():
    assert _problems(RULES + '    message: "Hi {{Signer3.Name}}"\n') == [
        "rules.yaml:10:14: rule quote: rules.0.message: merge field {{Signer3.Name}} names signer 3 but this rule "
        "has 2 signer(s); use Signer1 to Signer2"]


def test_language_defaults_to_english_and_must_be_a_language_code():
    assert parse_mapping(RULES).rules[0].language == "en"
    assert parse_mapping(RULES + "    language: en-gb\n").rules[0].language == "en-gb"
    assert _problems(RULES + "    language: Dutch\n") == [
        "rules.yaml:10:15: rule quote: rules.0.language: 'Dutch' is not a language code; use a lower-case ISO 639-1 "
        "code such as en, nl, fr or de, optionally with a region (en-gb)"]


def test_a_provider_without_a_language_setting_refuses_any_other_language():
    legalsign = FakeProvider(ProviderCapabilities(languages=frozenset()), name="signrequest")
    check_rules_have_providers(parse_mapping(RULES).rules, {"signrequest": legalsign})
    with pytest.raises(ProviderConfigError, match="Rule quote asks for language 'fr', but FakeSign's API has no "
                                                  "language setting"):
        check_rules_have_providers(parse_mapping(RULES + "    language: fr\n").rules, {"signrequest": legalsign})


def test_a_provider_with_a_language_list_refuses_what_it_does_not_offer():
    listed = FakeProvider(ProviderCapabilities(languages=frozenset({"en", "nl"})), name="signrequest")
    check_rules_have_providers(parse_mapping(RULES + "    language: nl\n").rules, {"signrequest": listed})
    with pytest.raises(ProviderConfigError, match=r"language 'ko', which FakeSign does not offer \(languages: en, nl\)"):
        check_rules_have_providers(parse_mapping(RULES + "    language: ko\n").rules, {"signrequest": listed})


def test_the_real_adapters_declare_their_languages():
    from adapters.legalsign.adapter import LegalsignProvider
    from adapters.onespan.adapter import OneSpanProvider
    from adapters.signrequest.adapter import SignRequestProvider

    assert LegalsignProvider.capabilities.languages == frozenset()
    assert OneSpanProvider.capabilities.languages is None
    assert {"en", "en-gb", "nl", "fr", "de", "ja"} <= SignRequestProvider.capabilities.languages
    assert "ko" not in SignRequestProvider.capabilities.languages


def test_check_mappings_locates_a_language_the_provider_cannot_send(tmp_path, capsys, monkeypatch):
    from connector.admin.cli import main

    monkeypatch.chdir(tmp_path)  # no .env from the working directory
    path = tmp_path / "rules.yaml"
    path.write_text(RULES.replace("provider: signrequest", "provider: legalsign") + "    language: fr\n")
    assert main(["check-mappings", str(path)]) == 1
    assert capsys.readouterr().out == (
        f"{path}:10:15: rule quote: language: asks for language 'fr', but Legalsign's API has no language setting "
        "(its e-mails and pages use the account's language). Remove language from the rule, or use another "
        "provider.\n")
    path.write_text(RULES + "    language: ko\n")
    assert main(["check-mappings", str(path)]) == 1
    assert "rule quote: language: asks for language 'ko', which SignRequest does not offer (languages: da, de, " \
           in capsys.readouterr().out
    path.write_text(RULES + "    language: nl\n")
    assert main(["check-mappings", str(path)]) == 0
