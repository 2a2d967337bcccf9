"""The JSON Schema of the mapping format, generated from the models.

`python -m mappings.schema` rewrites mappings/schema.json; a test fails when the shipped file is stale.
Editors that read `# yaml-language-server: $schema=...` validate and complete the YAML.
"""

from __future__ import annotations

import json
from pathlib import Path

from mappings.models import MappingFile

SCHEMA_PATH = Path(__file__).resolve().parent / "schema.json"


def _single_selector_too(schema: dict) -> None:
    """`documents: {title_pattern: ...}` (the original single-selector form) stays valid for editors."""
    rule = schema["$defs"]["Rule"]["properties"]
    listed = rule["documents"]
    rule["documents"] = {
        "anyOf": [{"$ref": "#/$defs/DocumentSelector"},
                  {k: v for k, v in listed.items() if k not in ("title", "description", "default")}],
        **{k: v for k, v in listed.items() if k in ("title", "description")},
    }


def generate() -> str:
    """The schema. `provider` is a pattern, not a list: which providers exist is the installation's registry
    (the loader checks the name against it), so a provider added as a package leaves this file as it is."""
    schema = MappingFile.model_json_schema()
    _single_selector_too(schema)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "esign-connector mappings"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    SCHEMA_PATH.write_text(generate(), encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}")
