"""Embedded delivery is refused at load, with the rule and the key located, when it cannot be served."""

from __future__ import annotations

import pytest

from config.settings import WritebackFields
from connector.documents.selection import PdfLimits
from connector.engine.delivery import check_embedded_delivery
from connector.engine.planner import plan_request
from connector.ports.errors import PreparationError
from connector.ports.provider import ProviderCapabilities
from mappings.loader import MappingError, load_mapping, parse_mapping
from tests.fakes import FakeProvider
from tests.unit.conftest import World

RULES = """version: 1
rules:
  - id: quote
    trigger: {stages: [Contract Sent]}
    provider: signrequest
    signers:
      - role: Decision Maker
      - role: Economic Buyer
        delivery: embedded
    writeback: {signing_url: Signing_URL__c}
"""
ALL = ProviderCapabilities(embedded_signing=True, mixed_delivery=True)


def _problems(tmp_path, text: str, capabilities: ProviderCapabilities, fields: WritebackFields | None = None):
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    with pytest.raises(MappingError) as info:
        check_embedded_delivery(load_mapping(path), {"signrequest": FakeProvider(capabilities)},
                                fields or WritebackFields(_env_file=None), path)
    return [str(p).removeprefix(f"{path}:") for p in info.value.problems]


def test_a_provider_without_embedded_signing_is_refused_at_the_signers_delivery(tmp_path):
    problems = _problems(tmp_path, RULES, ProviderCapabilities())
    assert problems == ["9:19: rule quote: rules.0.signers.1.delivery: delivery: embedded is not possible with "
                        "FakeSign, which cannot leave a signer un-emailed and hand out the signing link. Use "
                        "delivery: email, or a provider with embedded signing."]


def test_a_provider_that_emails_all_or_none_refuses_a_mixed_request(tmp_path):
    problems = _problems(tmp_path, RULES, ProviderCapabilities(embedded_signing=True))
    assert problems == ["9:19: rule quote: rules.0.signers.1.delivery: FakeSign emails either every signer of a "
                        "request or none, so an embedded signer cannot share a request with signers by email. "
                        "Make every signer embedded, or none."]


def test_no_signing_url_field_anywhere_is_refused(tmp_path):
    problems = _problems(tmp_path, RULES.replace("    writeback: {signing_url: Signing_URL__c}\n", ""), ALL)
    assert problems == ["9:19: rule quote: rules.0.signers.1.delivery: an embedded signer's link must be written to "
                        "the opportunity, but no signing-URL field is set. Set writeback.signing_url in the rule or "
                        "CONNECTOR_FIELD_SIGNING_URL."]


def test_the_settings_signing_url_field_is_enough(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(RULES.replace("    writeback: {signing_url: Signing_URL__c}\n", ""))
    check_embedded_delivery(load_mapping(path), {"signrequest": FakeProvider(ALL)},
                            WritebackFields(_env_file=None, signing_url="Signing_URL__c"), path)


def test_the_planner_refuses_embedded_delivery_the_provider_cannot_do(world: World):
    opportunity = world.add_opportunity()
    rule = parse_mapping(RULES).rules[0]
    with pytest.raises(PreparationError, match="Rule quote: delivery: embedded is not possible with FakeSign"):
        plan_request(rule, opportunity, download=world.crm.download_file, capabilities=ProviderCapabilities(),
                     provider_label="FakeSign", limits=PdfLimits(), external_id="job-1", callback_url="https://x")


def test_check_mappings_reports_embedded_delivery_onespan_cannot_do(tmp_path, capsys, monkeypatch):
    from connector.admin.cli import main

    monkeypatch.chdir(tmp_path)  # no .env from the working directory
    path = tmp_path / "rules.yaml"
    path.write_text(RULES.replace("provider: signrequest", "provider: onespan"))
    assert main(["check-mappings", str(path)]) == 1
    assert capsys.readouterr().out == (
        f"{path}:9:19: rule quote: rules.0.signers.1.delivery: delivery: embedded is not possible with OneSpan "
        "Sign, which cannot leave a signer un-emailed and hand out the signing link. Use delivery: email, or a "
        "provider with embedded signing.\n")
    path.write_text(RULES)
    assert main(["check-mappings", str(path)]) == 0
