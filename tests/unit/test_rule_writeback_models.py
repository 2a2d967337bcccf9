"""The writeback:, move_to_stage_on: and delivery: keys of a rule, and their load errors."""

from __future__ import annotations

import pytest

from mappings.loader import MappingError, parse_mapping
from mappings.models import Rule

BASE = """version: 1
rules:
  - id: quote
    trigger: {stages: [Contract Sent]}
    provider: signrequest
    signers: [{role: Decision Maker}]
"""
DEFAULTS = {"status": "S__c", "request_id": "R__c", "sent_at": "SA__c", "completed_at": "C__c",
            "decline_reason": None, "signing_url": None, "last_error": "E__c"}


def _problems(text: str) -> list[str]:
    with pytest.raises(MappingError) as info:
        parse_mapping(text, "rules.yaml")
    return [str(p) for p in info.value.problems]


def test_left_out_names_fall_back_to_the_settings_and_null_means_not_written():
    rule = parse_mapping(BASE + "    writeback: {status: Deal_Sign__c, last_error: null, "
                                "decline_reason: Why__c}\n").rules[0]
    assert rule.writeback.resolve(DEFAULTS) == {**DEFAULTS, "status": "Deal_Sign__c", "last_error": None,
                                                "decline_reason": "Why__c"}


def test_a_rule_without_writeback_block_uses_the_settings_names():
    assert parse_mapping(BASE).rules[0].writeback.resolve(DEFAULTS) == DEFAULTS


def test_the_job_snapshot_keeps_left_out_apart_from_null():
    rule = parse_mapping(BASE + "    writeback: {last_error: null}\n").rules[0]
    snapshot = rule.model_dump(mode="json")
    assert snapshot["writeback"] == {"last_error": None}
    again = Rule.model_validate(snapshot)
    assert again.writeback.resolve(DEFAULTS)["last_error"] is None
    assert again.writeback.resolve(DEFAULTS)["status"] == "S__c"


def test_unknown_writeback_key_suggests_the_right_one():
    problems = _problems(BASE + "    writeback: {signing_link: Url__c}\n")
    assert problems == ["rules.yaml:7:17: rule quote: rules.0.writeback.signing_link: unknown key 'signing_link'; "
                        "did you mean 'signing_url'?"]


def test_a_field_name_that_is_not_an_api_name_is_located():
    problems = _problems(BASE + "    writeback: {status: 'Signing Status'}\n")
    assert len(problems) == 1
    assert problems[0].startswith("rules.yaml:7:25: rule quote: rules.0.writeback.status: String should match")


def test_moving_into_the_rules_own_trigger_is_refused():
    problems = _problems(BASE + "    move_to_stage_on: {declined: Contract Sent}\n")
    assert problems == ["rules.yaml:3:5: rule quote: rules.0: move_to_stage_on.declined moves the opportunity to "
                        "'Contract Sent', a trigger stage of this same rule, which would send it again; pick a "
                        "stage outside trigger.stages"]


def test_moving_into_another_rules_trigger_is_allowed():
    text = BASE + "    move_to_stage_on: {completed: Negotiation}\n" + """  - id: terms
    trigger: {stages: [Negotiation]}
    provider: legalsign
    signers: [{role: Decision Maker}]
"""
    mapping = parse_mapping(text)
    assert mapping.rules[0].move_to_stage_on.targets() == {"completed": "Negotiation"}


def test_a_loop_of_moves_across_rules_is_refused():
    text = BASE + "    move_to_stage_on: {expired: Negotiation}\n" + """  - id: terms
    trigger: {stages: [Negotiation]}
    provider: legalsign
    signers: [{role: Decision Maker}]
    move_to_stage_on: {expired: Contract Sent}
"""
    assert _problems(text) == ["rules.yaml:1:1: stage moves form a loop: quote -> terms -> quote (each rule's "
                               "move_to_stage_on lands in the next rule's trigger stage), which would send requests "
                               "without end; break the loop"]


def test_unknown_outcome_in_move_to_stage_on_is_located():
    problems = _problems(BASE + "    move_to_stage_on: {signed: Closed Won}\n")
    assert problems == ["rules.yaml:7:24: rule quote: rules.0.move_to_stage_on.signed: unknown key 'signed'; "
                        "valid keys: completed, declined, expired, cancelled"]


def test_delivery_defaults_to_email_and_accepts_embedded():
    rule = parse_mapping(BASE.replace("{role: Decision Maker}", "{role: Decision Maker, delivery: embedded}")
                         ).rules[0]
    assert rule.signers[0].delivery == "embedded"
    assert parse_mapping(BASE).rules[0].signers[0].delivery == "email"


def test_unknown_delivery_is_located():
    problems = _problems(BASE.replace("{role: Decision Maker}", "{role: Decision Maker, delivery: sms}"))
    assert len(problems) == 1
    assert problems[0].startswith("rules.yaml:6:48: rule quote: rules.0.signers.0.delivery: Input should be "
                                  "'email' or 'embedded'")


def test_two_embedded_signers_are_refused():
    text = BASE.replace("[{role: Decision Maker}]", "[{role: Decision Maker, delivery: embedded}]") + \
        "    internal_signer: {owner: true, delivery: embedded}\n"
    assert _problems(text) == ["rules.yaml:3:5: rule quote: rules.0: Decision Maker and internal signer both have "
                               "delivery: embedded, but the opportunity has one signing-URL field and an embedded "
                               "signer gets no email; keep one embedded signer"]


def test_optional_settings_fields_are_unset_when_empty_and_named_when_given(monkeypatch):
    from config.settings import WritebackFields

    monkeypatch.setenv("CONNECTOR_FIELD_DECLINE_REASON", "")
    monkeypatch.setenv("CONNECTOR_FIELD_SIGNING_URL", "Signing_URL__c")
    fields = WritebackFields(_env_file=None)
    assert (fields.decline_reason, fields.signing_url) == (None, "Signing_URL__c")
