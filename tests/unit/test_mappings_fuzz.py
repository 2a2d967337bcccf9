"""Whatever YAML an admin writes, the loader answers with a valid mapping or located problems."""

from __future__ import annotations

import re

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from mappings.loader import MappingError, parse_mapping
from mappings.models import MappingFile

LOCATED = re.compile(r"^rules\.yaml:\d+:\d+: .+")

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20))
values = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.sampled_from(
                                   ["id", "trigger", "stages", "provider", "signers", "role", "auth", "documents",
                                    "title_pattern", "select", "subject", "message", "rules", "version",
                                    "expires_in_days", "x", "filter", "record_types", "amount", "min", "max",
                                    "field_equals", "template", "path", "title", "fields", "required",
                                    "language"]), children, max_size=5)),
    max_leaves=20,
)
texts = st.one_of(st.text(max_size=30), st.sampled_from([
    "{{Opportunity.Amount}}", "{{Signer1.Name}}", "{{Signer9.Email}}", "{{Acount.Name}}", "{{Owner.Title}}",
    "templates/order_form.pdf", "mappings/templates/order_form.pdf", "../x.pdf", "customer_name", "en", "xx-yy"]))
# Rules whose new parts (filter, template documents, language) are well shaped but hold arbitrary values.
shaped_rules = st.fixed_dictionaries({
    "id": st.sampled_from(["r1", "bad id"]),
    "trigger": st.fixed_dictionaries({"stages": st.lists(texts, max_size=2)}, optional={
        "filter": st.fixed_dictionaries({}, optional={
            "record_types": st.lists(texts, max_size=2), "amount": st.dictionaries(
                st.sampled_from(["min", "max", "mni"]), scalars, max_size=2),
            "field_equals": st.dictionaries(texts, scalars, max_size=2)})}),
    "provider": st.sampled_from(["signrequest", "legalsign", "docusign"]),
    "signers": st.lists(st.fixed_dictionaries({"role": texts}), max_size=2),
    "documents": st.one_of(values, st.lists(st.one_of(
        st.fixed_dictionaries({}, optional={"title_pattern": texts, "required": scalars, "select": texts}),
        st.fixed_dictionaries({"template": st.fixed_dictionaries({}, optional={
            "path": texts, "title": texts, "fields": st.dictionaries(texts, texts, max_size=3)})})), max_size=3)),
}, optional={"language": texts, "subject": texts, "message": texts})


def _check(text: str) -> None:
    try:
        result = parse_mapping(text, "rules.yaml")
    except MappingError as exc:
        assert exc.problems
        assert all(LOCATED.match(str(p)) for p in exc.problems), exc.problems
    else:
        assert isinstance(result, MappingFile)


@settings(max_examples=200, deadline=None)
@given(values)
def test_structured_yaml_never_raises_anything_else(value):
    _check(yaml.safe_dump({"version": 1, "rules": [value]} if isinstance(value, dict) else value))


@settings(max_examples=200, deadline=None)
@given(shaped_rules)
def test_rules_with_filters_templates_and_languages_never_raise_anything_else(rule):
    _check(yaml.safe_dump({"version": 1, "rules": [rule]}))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_raises_anything_else(text):
    _check(text)
