"""`python -m connector.admin.write_schema`: rewrite mappings/schema.json, offering the installed providers."""

from __future__ import annotations

from connector.runtime.provider_registry import names
from mappings.schema import SCHEMA_PATH, generate

if __name__ == "__main__":
    SCHEMA_PATH.write_text(generate(names()), encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}")
