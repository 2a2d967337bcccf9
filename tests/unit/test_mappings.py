from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import REPO_ROOT
from mappings.loader import MappingError, load_mapping, parse_mapping

GOOD = """version: 1
rules:
  - id: quote
    trigger: {stages: [Contract Sent]}
    provider: signrequest
    signers: [{role: Decision Maker}]
"""


KNOWN_PROVIDERS = ("signrequest", "onespan", "legalsign")


def _problems(text: str) -> list[str]:
    with pytest.raises(MappingError) as info:
        parse_mapping(text, "rules.yaml", providers=KNOWN_PROVIDERS)
    return [str(p) for p in info.value.problems]


def test_shipped_mapping_is_valid():
    mapping = load_mapping(REPO_ROOT / "mappings" / "rules.yaml")
    assert mapping.stages() == ["Closed Lost", "Contract Sent", "Negotiation", "Proposal", "Verbal Commitment"]


def test_annotated_example_is_valid_and_shows_every_key_of_the_format():
    import json

    import yaml

    path = REPO_ROOT / "mappings" / "example.annotated.yaml"
    load_mapping(path)
    shown: set[str] = set()

    def collect(node, inside_field_map: bool = False) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if not inside_field_map:
                    shown.add(key)
                # The values of these maps are the admin's own names (PDF fields, Salesforce fields).
                collect(value, inside_field_map=key in ("fields", "field_equals"))
        elif isinstance(node, list):
            for item in node:
                collect(item)

    collect(yaml.safe_load(path.read_text(encoding="utf-8")))
    schema = json.loads((REPO_ROOT / "mappings" / "schema.json").read_text(encoding="utf-8"))
    keys = set(schema["properties"])
    for definition in schema["$defs"].values():
        keys |= set(definition.get("properties", {}))
    assert keys - shown == set(), "add these keys to mappings/example.annotated.yaml"


def test_defaults_fill_the_minimal_rule():
    rule = parse_mapping(GOOD).rules[0]
    [document] = rule.documents
    assert (document.title_pattern, document.select, document.required) == ("*", "newest", True)
    assert (rule.send_reminders, rule.language, rule.trigger.filter) == (True, "en", None)


def test_unknown_key_is_located():
    expected = "rules.yaml:7:5: rule quote: rules.0.signerz: unknown key 'signerz'; did you mean 'signers'?"
    assert _problems(GOOD + "    signerz: []\n") == [expected]


def test_unknown_provider_and_merge_field_are_located():
    text = GOOD.replace("signrequest", "docusign") + '    subject: "Hi {{Contact.Nme}}"\n'
    problems = _problems(text)
    assert problems[0] == ("rules.yaml:5:15: rule quote: rules.0.provider: unknown provider 'docusign'; known: "
                           "legalsign, onespan, signrequest")
    assert "rules.yaml:7:14: rule quote: rules.0.subject: unknown merge field {{Contact.Nme}}" in problems[1]


def test_invalid_yaml_is_located():
    assert _problems("rules: [\n  - id: x\n")[0].startswith("rules.yaml:2:3: invalid YAML: expected the node content")


def test_duplicate_rule_ids_are_refused():
    text = GOOD + GOOD.split("rules:\n")[1]
    assert "rule id 'quote' is used twice" in _problems(text)[0]


def test_missing_file_is_a_located_error(tmp_path: Path):
    with pytest.raises(MappingError, match="cannot read mapping file"):
        load_mapping(tmp_path / "absent.yaml")


def test_nested_unknown_key_gets_the_nearest_valid_key():
    problems = _problems(GOOD + "    documents: {titel_pattern: 'Q*'}\n")
    assert problems == ["rules.yaml:7:17: rule quote: rules.0.documents.titel_pattern: unknown key 'titel_pattern'; "
                        "did you mean 'title_pattern'?"]


def test_unrelated_unknown_key_lists_the_valid_ones():
    [problem] = _problems(GOOD + "    zzz: 1\n")
    assert "unknown key 'zzz'; valid keys: id, trigger, provider, documents, signers" in problem


def test_shipped_json_schema_is_up_to_date():
    from mappings.schema import SCHEMA_PATH, generate

    assert SCHEMA_PATH.read_text() == generate(), "run: python -m mappings.schema"
