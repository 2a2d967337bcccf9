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
                                    "expires_in_days", "x"]), children, max_size=5)),
    max_leaves=20,
)


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
@given(st.text(max_size=200))
def test_arbitrary_text_never_raises_anything_else(text):
    _check(text)
